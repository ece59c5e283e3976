#!/usr/bin/env bash
# Start (or check) the services the integration tests talk to, without systemd.
#
#   scripts/services.sh [redis] [postgres] [memcached] [mongo] [cluster] [mariadb] [nginx] [caddy]
#                                                                         # no args = all
#   scripts/services.sh stop [--force] [names...]                         # no names = all
#
# Idempotent: a service that already answers on its port is left alone. Missing Debian
# packages are installed with apt-get (root needed for that). Everything this script starts
# runs in the background and keeps its data, logs and pid files in the state directory.
# `stop` only stops what this script started (pid files), unless --force is given.
# nginx and caddy are only installed (Debian's packages, no system instance left running on
# ports 80/443/2019): the forward-auth tests start private instances on free ports.
#
# Environment:
#   SESSIONBRIDGE_STATE   state/log directory (default /tmp/sessionbridge-services)
#   REDIS_ADDR            default 127.0.0.1:6379
#   PGPORT                default 5432 (always 127.0.0.1, user postgres, trust auth)
#   MEMCACHED_ADDR        default 127.0.0.1:11211
#   MONGO_ADDR            default 127.0.0.1:27017 (FerretDB from testdata/ferretdb)
#   MONGODB_URI           if set, no MongoDB-wire server is started; the tests use it
#   REDIS_CLUSTER_PORT    first of three cluster ports (default 7001 -> 7001,7002,7003)
#   MARIADB_ADDR          default 127.0.0.1:3306 (user root without a password, database test):
#                         Debian's server when it is set up there, else a server of our own
#   SERVICES_WAIT         seconds to wait for a started service to answer (default 30)
#
# The last lines printed are `export NAME=value` lines for the tests:
#   eval "$(scripts/services.sh | grep '^export ')"
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SESSIONBRIDGE_STATE:-/tmp/sessionbridge-services}
REDIS_ADDR=${REDIS_ADDR:-127.0.0.1:6379}
PGPORT=${PGPORT:-5432}
PGHOST_ADDR=127.0.0.1
MEMCACHED_ADDR=${MEMCACHED_ADDR:-127.0.0.1:11211}
MONGO_ADDR=${MONGO_ADDR:-127.0.0.1:27017}
REDIS_CLUSTER_PORT=${REDIS_CLUSTER_PORT:-7001}
MARIADB_ADDR=${MARIADB_ADDR:-127.0.0.1:3306}
WAIT=${SERVICES_WAIT:-30}
ALL_SERVICES=(redis postgres memcached mongo cluster mariadb nginx caddy)
CLUSTER_PORTS=("$REDIS_CLUSTER_PORT" "$((REDIS_CLUSTER_PORT + 1))" "$((REDIS_CLUSTER_PORT + 2))")

export DEBIAN_FRONTEND=noninteractive

die() {
	echo "FAIL $*" >&2
	exit 1
}
note() { echo "     $*"; }
ok() { printf 'ok   %-10s %s (%s)\n' "$1" "$2" "$3"; }

addr_host() { echo "${1%:*}"; }
addr_port() { echo "${1##*:}"; }

# port_open HOST PORT: true if something accepts TCP connections there (2 s timeout).
port_open() {
	# shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

SUDO=()
if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo -n)
fi

APT_UPDATED=0
PG_INSTALLED=0
# need_pkgs PKG...: install the Debian packages that are not installed yet.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	command -v apt-get >/dev/null 2>&1 || die "need packages ${missing[*]} but apt-get is not available; install them yourself"
	mkdir -p "$STATE"
	local log=$STATE/apt.log
	if [[ $APT_UPDATED -eq 0 ]]; then
		note "apt-get update (log: $log)"
		"${SUDO[@]}" apt-get update >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed"; }
		APT_UPDATED=1
	fi
	note "apt-get install ${missing[*]} (log: $log)"
	"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "apt-get install ${missing[*]} failed"; }
}

# wait_port NAME HOST PORT LOG [PID]: wait until HOST:PORT answers; fail with the log tail.
wait_port() {
	local name=$1 host=$2 port=$3 log=$4 pid=${5:-} deadline=$((SECONDS + WAIT))
	while ! port_open "$host" "$port"; do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			echo "---- last lines of $log ----" >&2
			tail -n 30 "$log" >&2 || true
			die "$name exited before answering on $host:$port (log: $log)"
		fi
		if ((SECONDS >= deadline)); then
			echo "---- last lines of $log ----" >&2
			tail -n 30 "$log" >&2 || true
			die "$name does not answer on $host:$port after ${WAIT}s (log: $log)"
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------- redis
start_redis() {
	local host port dir log out
	host=$(addr_host "$REDIS_ADDR") port=$(addr_port "$REDIS_ADDR")
	if port_open "$host" "$port"; then
		ok redis "$REDIS_ADDR" "already running"
		return
	fi
	need_pkgs redis-server
	dir=$STATE/redis log=$STATE/redis.log
	mkdir -p "$dir"
	if ! out=$(redis-server --bind "$host" --port "$port" --daemonize yes --save '' --appendonly no \
		--dir "$dir" --logfile "$log" --pidfile "$STATE/redis.pid" 2>&1); then
		echo "$out" >&2
		die "redis-server did not start (log: $log)"
	fi
	wait_port redis "$host" "$port" "$log"
	ok redis "$REDIS_ADDR" "started, log: $log"
}

# ---------------------------------------------------------------------------- postgres
pg_bindir() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb ]] || return 1
	echo "$d"
}

# as_postgres CMD...: run as the postgres OS user when root, else as ourselves.
as_postgres() {
	if [[ $EUID -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

pg_trust_ok() {
	(unset PGPASSWORD PGSERVICE PGPASSFILE PGUSER PGDATABASE PGHOST PGSSLMODE
	PGCONNECT_TIMEOUT=3 timeout 10 psql -w -X -q -h "$PGHOST_ADDR" -p "$PGPORT" -U postgres -d postgres \
		-Atc 'select 1' 2>&1)
}

start_postgres() {
	local addr=$PGHOST_ADDR:$PGPORT out
	if port_open "$PGHOST_ADDR" "$PGPORT"; then
		command -v psql >/dev/null 2>&1 || need_pkgs postgresql-client
		if out=$(pg_trust_ok) && [[ $out == 1 ]]; then
			ok postgres "$addr" "already running"
			return
		fi
		echo "     psql: ${out//$'\n'/$'\n'     psql: }" >&2
		die "postgres: something answers on $addr but 'psql -h $PGHOST_ADDR -p $PGPORT -U postgres -c \"select 1\"'
     does not work without a password. The tests need user postgres with trust auth over TCP.
     If this is Debian's system cluster (pg_hba uses scram on 127.0.0.1), stop it
     (pg_ctlcluster 15 main stop) or run with another port, e.g. PGPORT=5433 $0 postgres"
	fi
	local bin
	if ! bin=$(pg_bindir); then
		need_pkgs postgresql
		PG_INSTALLED=1
		bin=$(pg_bindir) || die "postgres: no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
	fi
	if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
		die "postgres: OS user postgres does not exist (is the postgresql package installed correctly?)"
	fi
	# On systemd machines installing the Debian package starts its system cluster on 5432,
	# whose pg_hba wants a password over TCP. We just installed it, so stop it and keep it
	# from starting at boot; we run our own trust cluster instead.
	if port_open "$PGHOST_ADDR" "$PGPORT"; then
		local out2
		if ((PG_INSTALLED)) && ! { out2=$(pg_trust_ok) && [[ $out2 == 1 ]]; }; then
			local c ver
			for c in /etc/postgresql/*/main; do
				[[ -d $c ]] || continue
				ver=$(basename "$(dirname "$c")")
				note "postgres: stopping the system cluster $ver/main that installing postgresql started (start.conf -> manual)"
				echo manual >"$c/start.conf" || true
				pg_ctlcluster "$ver" main stop >/dev/null 2>&1 || true
			done
		fi
		if port_open "$PGHOST_ADDR" "$PGPORT"; then
			start_postgres
			return
		fi
	fi
	local top=$STATE/postgres data=$STATE/postgres/data log=$STATE/postgres.log
	mkdir -p "$top"
	chmod o+x "$STATE"
	if [[ $EUID -eq 0 ]]; then
		chown postgres:postgres "$top"
		touch "$log" && chown postgres:postgres "$log"
		as_postgres test -w "$top" ||
			die "postgres: user postgres cannot write $top (a parent directory of SESSIONBRIDGE_STATE=$STATE is not accessible); use another SESSIONBRIDGE_STATE"
	fi
	if [[ ! -f $data/PG_VERSION ]]; then
		note "initdb $data"
		as_postgres "$bin/initdb" -D "$data" --auth=trust -U postgres --encoding=UTF8 --locale=C.UTF-8 \
			>>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "postgres: initdb failed (log: $log)"; }
	fi
	as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t "$WAIT" \
		-o "-c listen_addresses=$PGHOST_ADDR -p $PGPORT -c unix_socket_directories=$top" start \
		>>"$log.pg_ctl" 2>&1 || {
		tail -n 10 "$log.pg_ctl" >&2
		echo "---- last lines of $log ----" >&2
		tail -n 30 "$log" >&2
		die "postgres: pg_ctl start failed (log: $log)"
	}
	wait_port postgres "$PGHOST_ADDR" "$PGPORT" "$log"
	command -v psql >/dev/null 2>&1 || need_pkgs postgresql-client
	if ! out=$(pg_trust_ok) || [[ $out != 1 ]]; then
		die "postgres: started on $addr but 'select 1' fails: $out"
	fi
	ok postgres "$addr" "started, data: $data, log: $log"
}

# ---------------------------------------------------------------------------- memcached
start_memcached() {
	local host port log user pid
	host=$(addr_host "$MEMCACHED_ADDR") port=$(addr_port "$MEMCACHED_ADDR")
	# The npm memcached client spawns ping(8) to check a failed server again
	# (its reconnect option), and the Node process dies without the binary.
	command -v ping >/dev/null 2>&1 || need_pkgs iputils-ping
	if port_open "$host" "$port"; then
		ok memcached "$MEMCACHED_ADDR" "already running"
		return
	fi
	need_pkgs memcached
	log=$STATE/memcached.log
	mkdir -p "$STATE"
	local args=(-l "$host" -p "$port" -U 0 -m 64)
	if [[ $EUID -eq 0 ]]; then
		user=nobody
		id -u memcache >/dev/null 2>&1 && user=memcache
		args+=(-u "$user")
	fi
	# Foreground process in its own session (instead of -d) so that we own the pid and the log.
	setsid nohup memcached "${args[@]}" -v >"$log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STATE/memcached.pid"
	wait_port memcached "$host" "$port" "$log" "$pid"
	ok memcached "$MEMCACHED_ADDR" "started, log: $log"
}

# ---------------------------------------------------------------------------- mongo (FerretDB)
start_mongo() {
	if [[ -n ${MONGODB_URI:-} ]]; then
		ok mongo "MONGODB_URI" "not started: the tests use MONGODB_URI=$MONGODB_URI"
		return
	fi
	local host port src=$REPO/testdata/ferretdb bin=$STATE/ferretdb-server log=$STATE/ferretdb.log pid
	host=$(addr_host "$MONGO_ADDR") port=$(addr_port "$MONGO_ADDR")
	if port_open "$host" "$port"; then
		ok mongo "$MONGO_ADDR" "already running"
		return
	fi
	[[ -f $src/main.go ]] || die "mongo: $src/main.go is missing"
	mkdir -p "$STATE"
	if ! [[ -x $bin && $bin -nt $src/main.go && $bin -nt $src/go.mod && $bin -nt $src/go.sum ]]; then
		command -v go >/dev/null 2>&1 || die "mongo: the go command is needed to build $src (or set MONGODB_URI)"
		local blog=$STATE/ferretdb-build.log t0=$SECONDS
		note "building FerretDB into $bin (first build takes a few minutes; log: $blog)"
		(cd "$src" && GOWORK=off go build -buildvcs=false -o "$bin.tmp" .) >"$blog" 2>&1 ||
			{ tail -n 30 "$blog" >&2; die "mongo: go build in $src failed (log: $blog)"; }
		mv -f "$bin.tmp" "$bin"
		note "built in $((SECONDS - t0))s"
	fi
	mkdir -p "$STATE/ferretdb-data"
	setsid nohup "$bin" -listen "$MONGO_ADDR" -dir "$STATE/ferretdb-data" >"$log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STATE/ferretdb.pid"
	wait_port mongo "$host" "$port" "$log" "$pid"
	ok mongo "$MONGO_ADDR" "started FerretDB, log: $log"
}

# ---------------------------------------------------------------------------- redis cluster
rcli() {
	local port=$1
	shift
	timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

cluster_info_field() { # PORT FIELD
	rcli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

cluster_all_ok() {
	local p info
	for p in "${CLUSTER_PORTS[@]}"; do
		info=$(rcli "$p" cluster info 2>/dev/null | tr -d '\r') || return 1
		[[ $info == *cluster_state:ok* && $info != *cluster_known_nodes:[12]$'\n'* ]] || return 1
	done
}

wait_cluster_ok() { # SECONDS
	local deadline=$((SECONDS + $1))
	until cluster_all_ok; do
		((SECONDS >= deadline)) && return 1
		sleep 0.3
	done
}

start_cluster() {
	local p dir log out started=0 hadconf=0 addrs
	addrs=$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")
	addrs=${addrs%,}
	mkdir -p "$STATE/cluster"
	for p in "${CLUSTER_PORTS[@]}"; do
		port_open 127.0.0.1 "$p" && continue
		need_pkgs redis-server
		dir=$STATE/cluster/$p log=$STATE/cluster/redis-$p.log
		mkdir -p "$dir"
		[[ -s $STATE/cluster/nodes-$p.conf ]] && hadconf=1
		if ! out=$(redis-server --port "$p" --cluster-enabled yes \
			--cluster-config-file "$STATE/cluster/nodes-$p.conf" --daemonize yes --bind 127.0.0.1 \
			--save '' --appendonly no --dir "$dir" --logfile "$log" --pidfile "$dir/redis.pid" 2>&1); then
			echo "$out" >&2
			die "cluster: redis-server on port $p did not start (log: $log)"
		fi
		wait_port "cluster node" 127.0.0.1 "$p" "$log"
		started=1
	done
	command -v redis-cli >/dev/null 2>&1 || need_pkgs redis-tools
	if ((started == 0)) && cluster_all_ok; then
		ok cluster "$addrs" "already running"
		return
	fi
	# Restarted nodes with their nodes-P.conf rejoin the old cluster by themselves.
	if ((hadconf)) && wait_cluster_ok 10; then
		ok cluster "$addrs" "started, rejoined existing cluster, logs: $STATE/cluster/"
		return
	fi
	for p in "${CLUSTER_PORTS[@]}"; do
		if [[ $(cluster_info_field "$p" cluster_enabled) == 0 ]] ||
			! rcli "$p" cluster info >/dev/null 2>&1; then
			die "cluster: 127.0.0.1:$p answers but is not a cluster-enabled redis; stop it or set REDIS_CLUSTER_PORT"
		fi
		if [[ $(cluster_info_field "$p" cluster_known_nodes) != 1 || $(cluster_info_field "$p" cluster_slots_assigned) != 0 ]]; then
			note "cluster: resetting node 127.0.0.1:$p (FLUSHALL + CLUSTER RESET HARD)"
			rcli "$p" flushall >/dev/null 2>&1 || true
			rcli "$p" cluster reset hard >/dev/null ||
				die "cluster: CLUSTER RESET HARD failed on 127.0.0.1:$p"
		fi
	done
	local clog=$STATE/cluster/create.log
	note "cluster: redis-cli --cluster create ${addrs//,/ } (log: $clog)"
	# shellcheck disable=SC2046 # word splitting of the address list is intended
	timeout 60 redis-cli --cluster create $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}") \
		--cluster-replicas 0 --cluster-yes >"$clog" 2>&1 ||
		{ tail -n 30 "$clog" >&2; die "cluster: redis-cli --cluster create failed (log: $clog)"; }
	wait_cluster_ok "$WAIT" || {
		for p in "${CLUSTER_PORTS[@]}"; do echo "127.0.0.1:$p: $(cluster_info_field "$p" cluster_state)" >&2; done
		die "cluster: cluster_state is not ok on all nodes after ${WAIT}s (logs: $STATE/cluster/)"
	}
	ok cluster "$addrs" "started, logs: $STATE/cluster/"
}

# ---------------------------------------------------------------------------- mariadb
# mariadb_sql SQL: run SQL as root without a password over TCP at MARIADB_ADDR; prints the
# result (or the error).
mariadb_sql() {
	timeout 10 mariadb --protocol=tcp -h "$(addr_host "$MARIADB_ADDR")" -P "$(addr_port "$MARIADB_ADDR")" \
		-u root --skip-password -N -B -e "$1" 2>&1
}

# mariadb_ready: root logs in without a password over TCP and database test exists (it is
# created when missing).
mariadb_ready() {
	local out
	out=$(mariadb_sql 'CREATE DATABASE IF NOT EXISTS test; SELECT 1') && [[ $out == 1 ]]
}

# mariadb_open_root: on a server whose root logs in only through the unix socket (Debian's
# default), let root log in over TCP from 127.0.0.1 without a password too, as the tests do.
mariadb_open_root() {
	[[ $EUID -eq 0 ]] || return 1
	note "mariadb: letting root log in over TCP from 127.0.0.1 without a password"
	timeout 10 mariadb --protocol=socket -u root -e "
		ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		CREATE DATABASE IF NOT EXISTS test;" >/dev/null 2>&1
}

start_mariadb() {
	local host port log pid out
	host=$(addr_host "$MARIADB_ADDR") port=$(addr_port "$MARIADB_ADDR")
	if port_open "$host" "$port"; then
		command -v mariadb >/dev/null 2>&1 || need_pkgs mariadb-client
		if mariadb_ready || { mariadb_open_root && mariadb_ready; }; then
			ok mariadb "$MARIADB_ADDR" "already running"
			return
		fi
		out=$(mariadb_sql 'SELECT 1') || true
		die "mariadb: something answers on $MARIADB_ADDR but root cannot log in there without a password
     ($out). The tests need user root without a password over TCP, and database test.
     Run with another address, e.g. MARIADB_ADDR=127.0.0.1:3307 $0 mariadb"
	fi
	need_pkgs mariadb-server
	command -v mariadb >/dev/null 2>&1 || need_pkgs mariadb-client
	log=$STATE/mariadb.log
	mkdir -p "$STATE"
	if [[ $host == 127.0.0.1 && $port == 3306 && -d /var/lib/mysql/mysql && $EUID -eq 0 ]]; then
		# Debian's server, stopped: start it as the machine does at boot.
		mkdir -p /run/mysqld
		chown mysql:mysql /run/mysqld
		start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$STATE/mariadb.pid" \
			--output "$log" --exec /usr/sbin/mariadbd -- --user=mysql
		pid=$(head -n 1 "$STATE/mariadb.pid" 2>/dev/null || true) # none when it already ran
		wait_port mariadb "$host" "$port" "$log" "$pid"
		if ! mariadb_ready && ! { mariadb_open_root && mariadb_ready; }; then
			die "mariadb: started on $MARIADB_ADDR but root cannot log in without a password: $(mariadb_sql 'SELECT 1')"
		fi
		ok mariadb "$MARIADB_ADDR" "started Debian's server (/var/lib/mysql), log: $log"
		return
	fi
	# A server of our own, its data in the state directory.
	local dir=$STATE/mariadb data=$STATE/mariadb/data user=()
	mkdir -p "$dir"
	if [[ $EUID -eq 0 ]]; then
		id -u mysql >/dev/null 2>&1 || die "mariadb: OS user mysql does not exist (is mariadb-server installed correctly?)"
		chmod o+x "$STATE"
		chown mysql:mysql "$dir"
		user=(--user=mysql)
	fi
	if [[ ! -d $data/mysql ]]; then
		note "mariadb-install-db $data"
		mariadb-install-db --no-defaults --datadir="$data" "${user[@]}" --auth-root-authentication-method=normal \
			--skip-test-db >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "mariadb: mariadb-install-db failed (log: $log)"; }
	fi
	setsid nohup mariadbd --no-defaults --datadir="$data" "${user[@]}" --bind-address="$host" --port="$port" \
		--socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" --skip-name-resolve \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci >>"$log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STATE/mariadb.pid"
	wait_port mariadb "$host" "$port" "$log" "$pid"
	mariadb_ready || die "mariadb: started on $MARIADB_ADDR but root cannot log in without a password: $(mariadb_sql 'SELECT 1')"
	ok mariadb "$MARIADB_ADDR" "started, data: $data, log: $log"
}

# ---------------------------------------------------------------------------- nginx, caddy
# need_pkgs_nostart PKG...: need_pkgs without letting the packages start their system
# service (nginx on 80, caddy on 80/443 and its admin API on 2019). A policy-rc.d that
# refuses every start is put in place for the install when the machine has none (Docker
# images ship one; it is left as it is).
need_pkgs_nostart() {
	local policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy && $EUID -eq 0 ]]; then
		printf '#!/bin/sh\n# scripts/services.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT # also when need_pkgs dies
		need_pkgs "$@"
		rm -f "$policy"
		trap - EXIT
		return
	fi
	need_pkgs "$@"
}

# stop_system_service NAME PIDFILE: stop the package's system instance if one runs anyway
# (a machine whose policy-rc.d allowed the start), and keep systemd from starting it at boot.
stop_system_service() {
	local name=$1 pidfile=$2 pid=""
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		"${SUDO[@]}" systemctl disable --now "$name" >/dev/null 2>&1 || true
	fi
	[[ -f $pidfile ]] && pid=$(head -n 1 "$pidfile" | tr -dc '0-9')
	if pid_alive "$pid" "$name"; then
		note "$name: stopping the system instance (pid $pid) that installing the package started"
		kill_wait "$pid" TERM "$name"
	fi
}

start_nginx() {
	local fresh=0 v
	command -v nginx >/dev/null 2>&1 || fresh=1
	# Debian 12's nginx package carries the binary with auth_request built in
	# (nginx-light/nginx-core/nginx-full only add dynamic modules on top).
	need_pkgs_nostart nginx
	((fresh)) && stop_system_service nginx /run/nginx.pid
	nginx -V 2>&1 | grep -q -- '--with-http_auth_request_module' ||
		die "nginx: $(command -v nginx) is built without the auth_request module (Debian's nginx package has it)"
	v=$(nginx -v 2>&1)
	ok nginx "$(command -v nginx)" "${v#nginx version: }, auth_request; tests start their own"
}

start_caddy() {
	local fresh=0 v
	command -v caddy >/dev/null 2>&1 || fresh=1
	need_pkgs_nostart caddy
	((fresh)) && stop_system_service caddy /run/caddy.pid
	v=$(caddy version 2>&1 | head -n 1)
	ok caddy "$(command -v caddy)" "${v%% *}; tests start their own"
}

# ---------------------------------------------------------------------------- stop
# pid_alive PID PATTERN: the process exists and its command line contains PATTERN.
pid_alive() {
	[[ -n $1 && -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# pids_on_port PORT: pids of processes listening on TCP PORT (via /proc, no ss/lsof needed).
pids_on_port() {
	local hex inodes d pid fd link
	hex=$(printf '%04X' "$1")
	inodes=$(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	[[ -z $inodes ]] && return 0
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		for fd in "$d"/fd/*; do
			link=$(readlink "$fd" 2>/dev/null) || continue
			case $link in socket:\[*\])
				if grep -qx "${link//[^0-9]/}" <<<"$inodes"; then
					echo "$pid"
					break
				fi
				;;
			esac
		done
	done | sort -u
}

# kill_wait PID SIGNAL NAME
kill_wait() {
	local pid=$1 sig=$2 name=$3 i
	kill "-$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	echo "     $name (pid $pid) still running after 10s, sending KILL"
	kill -KILL "$pid" 2>/dev/null || true
}

# stop_pidfile NAME PIDFILE PATTERN HOST PORT [SIGNAL]
stop_pidfile() {
	local name=$1 pidfile=$2 pattern=$3 host=$4 port=$5 sig=${6:-TERM} pid=""
	[[ -f $pidfile ]] && pid=$(head -n 1 "$pidfile" | tr -dc '0-9')
	if pid_alive "$pid" "$pattern"; then
		kill_wait "$pid" "$sig" "$name"
		rm -f "$pidfile"
		echo "stop $name $host:$port (pid $pid)"
		return
	fi
	rm -f "$pidfile"
	force_stop "$name" "$host" "$port" "$sig"
}

force_stop() { # NAME HOST PORT SIGNAL
	local name=$1 host=$2 port=$3 sig=$4 pids pid
	if ! port_open "$host" "$port"; then
		echo "stop $name $host:$port: not running"
		return
	fi
	if ((FORCE == 0)); then
		echo "stop $name $host:$port: running but not started by this script; left alone (use --force)"
		return
	fi
	pids=$(pids_on_port "$port")
	[[ -n $pids ]] || die "stop $name: cannot find the process listening on port $port"
	for pid in $pids; do
		kill_wait "$pid" "$sig" "$name"
		echo "stop $name $host:$port (pid $pid, --force)"
	done
}

stop_service() {
	case $1 in
	redis)
		stop_pidfile redis "$STATE/redis.pid" redis "$(addr_host "$REDIS_ADDR")" "$(addr_port "$REDIS_ADDR")"
		;;
	memcached)
		stop_pidfile memcached "$STATE/memcached.pid" memcached \
			"$(addr_host "$MEMCACHED_ADDR")" "$(addr_port "$MEMCACHED_ADDR")"
		;;
	mongo)
		stop_pidfile mongo "$STATE/ferretdb.pid" ferretdb-server \
			"$(addr_host "$MONGO_ADDR")" "$(addr_port "$MONGO_ADDR")"
		;;
	postgres)
		local data=$STATE/postgres/data bin
		if [[ -f $data/postmaster.pid ]] && bin=$(pg_bindir) &&
			pid_alive "$(head -n 1 "$data/postmaster.pid")" postgres; then
			as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
			echo "stop postgres $PGHOST_ADDR:$PGPORT (pg_ctl -D $data stop)"
		else
			force_stop postgres "$PGHOST_ADDR" "$PGPORT" INT
		fi
		;;
	mariadb)
		stop_pidfile mariadb "$STATE/mariadb.pid" mariadbd \
			"$(addr_host "$MARIADB_ADDR")" "$(addr_port "$MARIADB_ADDR")"
		;;
	cluster)
		local p
		for p in "${CLUSTER_PORTS[@]}"; do
			stop_pidfile "cluster" "$STATE/cluster/$p/redis.pid" redis 127.0.0.1 "$p"
		done
		;;
	nginx | caddy)
		echo "stop $1: nothing to stop (the tests run and stop their own instances)"
		;;
	esac
}

# ---------------------------------------------------------------------------- main
usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

valid_service() {
	local s
	for s in "${ALL_SERVICES[@]}"; do [[ $1 == "$s" ]] && return 0; done
	return 1
}

MODE=start FORCE=0
SERVICES=()
for arg in "$@"; do
	case $arg in
	-h | --help) usage; exit 0 ;;
	stop) MODE=stop ;;
	start) MODE=start ;;
	--force) FORCE=1 ;;
	all) SERVICES+=("${ALL_SERVICES[@]}") ;;
	*) valid_service "$arg" || { usage >&2; die "unknown service or option: $arg"; }
		SERVICES+=("$arg") ;;
	esac
done
[[ ${#SERVICES[@]} -eq 0 ]] && SERVICES=("${ALL_SERVICES[@]}")
# Dedupe, keep the canonical order.
WANT=" ${SERVICES[*]} "
SERVICES=()
for s in "${ALL_SERVICES[@]}"; do [[ $WANT == *" $s "* ]] && SERVICES+=("$s"); done

if [[ $MODE == stop ]]; then
	for s in "${SERVICES[@]}"; do stop_service "$s"; done
	exit 0
fi

mkdir -p "$STATE"
for s in "${SERVICES[@]}"; do "start_$s"; done

echo "# environment for the tests (eval \"\$($0 | grep '^export ')\"):"
for s in "${SERVICES[@]}"; do
	case $s in
	redis) echo "export REDIS_ADDR=$REDIS_ADDR" ;;
	postgres) echo "export PG_URL='postgres://postgres@$PGHOST_ADDR:$PGPORT/postgres?sslmode=disable'" ;;
	memcached) echo "export MEMCACHED_ADDR=$MEMCACHED_ADDR" ;;
	mongo)
		if [[ -n ${MONGODB_URI:-} ]]; then
			echo "export MONGO_URL='$MONGODB_URI'"
		else
			echo "export MONGO_URL=mongodb://$MONGO_ADDR"
		fi
		;;
	mariadb) echo "export MARIADB_DSN='root@tcp($MARIADB_ADDR)/test'" ;;
	cluster) echo "export REDIS_CLUSTER_ADDRS=$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}" | sed 's/,$//')" ;;
	esac
done
