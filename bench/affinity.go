package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuPlan splits the CPUs the harness may use between the server under
// test and everything else (load generators, stores, the harness), so that
// the server runs on cores of its own.
type cpuPlan struct {
	server []int // the server under test
	rest   []int // load generators, stores, the harness
	all    []int
	// note says what the split could not do (too few CPUs), for the report.
	note string
}

// planCPUs gives the server serverCores of the CPUs this process may run
// on (the last ones) and the rest to the others. With too few CPUs both
// share all of them and the note says so.
func planCPUs(serverCores int) (cpuPlan, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuPlan{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var all []int
	for i := range 1024 {
		if set.IsSet(i) {
			all = append(all, i)
		}
	}
	p := cpuPlan{all: all}
	if len(all) <= serverCores {
		p.server, p.rest = all, all
		p.note = fmt.Sprintf("this machine has %d CPU(s): the server under test could not have %d core(s) of its own; it shared them with the load generators and the stores, so every figure here understates what a server with dedicated cores does", len(all), serverCores)
		return p, nil
	}
	p.server = all[len(all)-serverCores:]
	p.rest = all[:len(all)-serverCores]
	return p, nil
}

// cpuList formats CPUs as taskset's -c list.
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinned prefixes argv with taskset so that the process and every thread
// it starts run only on cpus (taskset applies the mask before exec, so no
// thread escapes it).
func pinned(cpus []int, argv ...string) []string {
	return append([]string{"taskset", "-c", cpuList(cpus)}, argv...)
}

// pinSelf restricts the harness process (and the goroutines of its load
// generators) to cpus: every thread it has now (sched_setaffinity acts on
// one thread), and so every thread they start later, which inherits the
// mask.
func pinSelf(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("listing the harness's threads: %w", err)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("sched_setaffinity of thread %d: %w", tid, err)
		}
	}
	return nil
}
