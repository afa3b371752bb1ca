module github.com/lastcall-go/lastcall/bench

go 1.26.0

replace github.com/lastcall-go/lastcall => ../

require (
	github.com/lastcall-go/lastcall v0.0.0-00010101000000-000000000000
	github.com/oklog/run v1.2.0
	go.uber.org/fx v1.24.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	go.uber.org/dig v1.19.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da // indirect
	golang.org/x/sys v0.48.0 // indirect
)

tool golang.org/x/perf/cmd/benchstat
