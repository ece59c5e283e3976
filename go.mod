module github.com/sessionbridge/sessionbridge

go 1.26
