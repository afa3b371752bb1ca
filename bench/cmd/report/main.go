// Command report reads Go benchmark output (the library's benchmarks,
// bench/compare and cmd/procbench) and prints, first, the table of targets:
// each workload's figure, its peer measured in the same run, the ratio, the
// target and whether it is met; then one Markdown table per workload with
// every library's figures and its ratio to lastcall's. Repeated runs of a
// benchmark (-count, or rounds of bench.sh) are reduced to their median.
//
//	go run ./cmd/report out/lib.txt out/compare.txt out/proc.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results maps a benchmark name (without "Benchmark" and the -GOMAXPROCS
// suffix) to its metrics, each unit to every value seen.
type results map[string]map[string][]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(files []string) (results, []string) {
	r := results{}
	var env []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			log.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if k, _, ok := strings.Cut(line, ": "); ok && (k == "cpu" || k == "goos" || k == "goarch") {
				if !slices.Contains(env, line) {
					env = append(env, line)
				}
				continue
			}
			fs := strings.Fields(line)
			if len(fs) < 4 || !strings.HasPrefix(fs[0], "Benchmark") {
				continue
			}
			name := procSuffix.ReplaceAllString(strings.TrimPrefix(fs[0], "Benchmark"), "")
			if r[name] == nil {
				r[name] = map[string][]float64{}
			}
			for i := 2; i+1 < len(fs); i += 2 {
				v, err := strconv.ParseFloat(fs[i], 64)
				if err != nil {
					continue
				}
				r[name][fs[i+1]] = append(r[name][fs[i+1]], v)
			}
		}
		fh.Close()
	}
	return r, env
}

// get returns the median of a metric, and whether it was measured.
func (r results) get(name, unit string) (float64, bool) {
	vs := r[name][unit]
	if len(vs) == 0 {
		return math.NaN(), false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// val is get without the flag: NaN when not measured.
func (r results) val(name, unit string) float64 { v, _ := r.get(name, unit); return v }

// A target is one row of the table.
type target struct {
	workload string
	value    string // lastcall's figure
	peer     string // what it is compared with, and that figure
	ratio    float64
	goal     string
	ok       bool
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	r, env := parse(flag.Args())
	fmt.Printf("%s\n\n", strings.Join(env, "; "))

	targets := targetsOf(r)
	fmt.Printf("### Targets\n\n| workload | lastcall | peer | ratio | target | result |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, t := range targets {
		mark := "met"
		switch {
		case strings.Contains(t.value+t.peer, "NaN"):
			mark = "not measured"
		case !t.ok:
			mark = "**MISSED**"
		}
		ratio := "–"
		if !math.IsNaN(t.ratio) && t.ratio != 0 {
			ratio = fmt.Sprintf("%.3f×", t.ratio)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", t.workload, t.value, t.peer, ratio, t.goal, mark)
	}
	fmt.Println()

	for _, t := range tables() {
		printTable(r, t)
	}
	printLibrary(r)
}

const (
	procHooks5  = "Proc/sigterm/hooks=5/lib="
	procHooks0  = "Proc/sigterm/hooks=0/lib="
	procHTTP    = "Proc/http-drain/clients=32/work=200ms/lib="
	procSecond  = "Proc/second-sigterm/hook=10s/lib="
	httpFloorMs = 200.0
)

// targetsOf computes the rows of issue 9's table, in its order.
func targetsOf(r results) []target {
	ms := func(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }
	var ts []target
	proc := func(workload, bench, unit string, scale float64) {
		l, h := r.val(bench+"lastcall", unit), r.val(bench+"hand", unit)
		f := func(v float64) string { return fmt.Sprintf("%.3f ms", v/scale) }
		ts = append(ts, target{workload: workload, value: f(l),
			peer: "hand (`signal.NotifyContext` loop): " + f(h), ratio: l / h,
			goal: "≤ 1.15×", ok: l/h <= 1.15})
	}
	proc("SIGTERM to exit, 5 hooks (logger discarding)", procHooks5, "ns/op", 1e6)
	proc("SIGTERM to exit, 0 hooks", procHooks0, "ns/op", 1e6)
	proc("start to ready (New, 5 hooks, print \"ready\"): exec to the ready line", procHooks5, "ms-ready", 1)

	sl, sh := r.val("Size/minimal/lib=lastcall", "bytes"), r.val("Size/minimal/lib=hand", "bytes")
	ts = append(ts, target{workload: "minimal program using package shutdown, binary size",
		value: fmt.Sprintf("%.2f MB", sl/1e6), peer: fmt.Sprintf("`signal.NotifyContext` + log/slog: %.2f MB", sh/1e6),
		ratio: sl / sh, goal: "≤ 1.3×", ok: sl/sh <= 1.3})

	hl, failed := r.val(procHTTP+"lastcall", "ns/op"), r.val(procHTTP+"lastcall", "failed")
	ts = append(ts, target{workload: "HTTP drain, 32 clients, 200 ms handler, SIGTERM to exit",
		value: fmt.Sprintf("%s, %.0f failed", ms(hl), failed),
		peer:  fmt.Sprintf("the 200 ms floor (hand `srv.Shutdown`: %s)", ms(r.val(procHTTP+"hand", "ns/op"))),
		ratio: hl / 1e6 / httpFloorMs, goal: "≤ 1.08× (≤ 216 ms), 0 failed",
		ok: hl/1e6 <= 1.08*httpFloorMs && failed == 0})

	x200 := r.val("Stage/hooks=200/lib=lastcall", "x-floor")
	ts = append(ts, target{workload: "one stage of 200 hooks sleeping 20 ms",
		value: ms(r.val("Stage/hooks=200/lib=lastcall", "ns/op")), peer: "the 20 ms floor",
		ratio: x200, goal: "≤ 1.05×", ok: x200 <= 1.05})

	l10k, h10k := r.val("Stage/hooks=10000/lib=lastcall", "ns/op"), r.val("Stage/hooks=10000/lib=hand", "ns/op")
	ts = append(ts, target{workload: "one stage of 10,000 such hooks (errgroup)",
		value: ms(l10k), peer: "hand, a goroutine per hook: " + ms(h10k),
		ratio: l10k / h10k, goal: "≤ 1.15×", ok: l10k/h10k <= 1.15})

	ls, hr := r.val("Stop/hooks=100000/lib=lastcall", "ns/op"), r.val("Stop/hooks=100000/lib=hand+report", "ns/op")
	a10, a100k := r.val("Shutdown/seq/hooks=5", "allocs/op"), r.val("Shutdown/seq/hooks=100000", "allocs/op")
	ts = append(ts, target{workload: "Stop of 100,000 no-op hooks",
		value: fmt.Sprintf("%s; %.0f allocs a shutdown of 100,000 hooks, %.0f of 5", ms(ls), a100k, a10),
		peer:  "hand+report: " + ms(hr), ratio: ls / hr,
		goal: "≤ 1.6×; 0 allocs per hook", ok: ls/hr <= 1.6 && a100k <= a10})

	rn, ra := r.val("Register/lib=lastcall", "ns/op"), r.val("Register/lib=lastcall", "allocs/op")
	ts = append(ts, target{workload: "Register",
		value: fmt.Sprintf("%.1f ns, %.0f alloc (library's own run: %.1f ns)", rn, ra, r.val("Register", "ns/op")),
		peer:  fmt.Sprintf("hand+handle: %.1f ns", r.val("Register/lib=hand+handle", "ns/op")),
		ratio: math.NaN(), goal: "≤ 150 ns, 1 alloc", ok: rn <= 150 && ra == 1})

	hg, others := r.val("Hung/lib=lastcall", "ms"), r.val("Hung/lib=lastcall", "others-ran")
	ts = append(ts, target{workload: "hung hook 300 ms",
		value: fmt.Sprintf("%.1f ms, %.0f of 4 others run", hg, others), peer: "the 300 ms timeout",
		ratio: hg / 300, goal: "≤ 310 ms with the others run", ok: hg <= 310 && others == 4})
	s2, st := r.val(procSecond+"lastcall", "ns/op"), r.val(procSecond+"lastcall", "exit-status")
	ts = append(ts, target{workload: "second SIGTERM 200 ms into a 10 s hook",
		value: fmt.Sprintf("%s, status %.0f", ms(s2), st), peer: "the second signal at 200 ms",
		ratio: s2 / 1e6 / 200, goal: "≤ 205 ms, status 143", ok: s2 <= 205e6 && st == 143})
	return ts
}

// column is one figure of a table: a metric, scaled and formatted.
type column struct {
	head  string
	unit  string
	scale float64 // value printed = metric / scale
	prec  int
	ratio bool // add a "× lastcall" column after it
}

var (
	timeMs   = column{head: "time (ms)", unit: "ns/op", scale: 1e6, prec: 3, ratio: true}
	nsOp     = column{head: "ns/op", unit: "ns/op", scale: 1, prec: 1, ratio: true}
	allocsOp = column{head: "allocs/op", unit: "allocs/op", scale: 1, prec: 0}
	bytesOp  = column{head: "B/op", unit: "B/op", scale: 1, prec: 0}
)

type table struct {
	title string
	bench string // the name before /lib=
	libs  []string
	cols  []column
}

func tables() []table {
	all := []string{"lastcall", "hand", "fx", "oklog"}
	floors := []string{"hand+stdio", "hand+deadline", "hand+deadline+warm", "hand+linked", "hand+contract"}
	stage := []column{timeMs, {head: "× floor", unit: "x-floor", scale: 1, prec: 3}, {head: "peak running", unit: "peak", scale: 1, prec: 0}}
	return []table{
		procTable("SIGTERM to exit, whole process, 5 hooks", procHooks5, append(slices.Clone(all), floors...)),
		procTable("SIGTERM to exit, whole process, 0 hooks", procHooks0, append(slices.Clone(all), floors...)),
		{
			title: "HTTP drain: 32 clients, a request of 200 ms in flight on each, SIGTERM to exit",
			bench: strings.TrimSuffix(procHTTP, "/lib="),
			libs:  all,
			cols: []column{
				{head: "exit after SIGTERM, median (ms)", unit: "ns/op", scale: 1e6, prec: 2, ratio: true},
				{head: "p90", unit: "ms-p90", scale: 1, prec: 2},
				{head: "last response after SIGTERM (ms)", unit: "ms-last-response", scale: 1, prec: 2},
				{head: "failed requests (all runs)", unit: "failed", scale: 1, prec: 0},
				{head: "status", unit: "exit-status", scale: 1, prec: 0},
			},
		},
		{
			title: "Binary size",
			bench: "Size/minimal",
			libs:  []string{"lastcall", "hand"},
			cols:  []column{{head: "bytes", unit: "bytes", scale: 1, prec: 0, ratio: true}},
		},
		{
			title: "Binary size of the benchmark programs",
			bench: "Size/bench",
			libs:  []string{"lastcall", "hand", "hand+contract"},
			cols:  []column{{head: "bytes", unit: "bytes", scale: 1, prec: 0, ratio: true}},
		},
		{
			title: "Stop of 100,000 no-op hooks, in-process",
			bench: "Stop/hooks=100000",
			libs:  []string{"lastcall", "hand", "hand+clock", "hand+report", "fx", "oklog"},
			cols:  []column{timeMs, bytesOp, allocsOp},
		},
		{
			title: "A shutdown of 5 no-op hooks, in-process (trigger to report)",
			bench: "Small",
			libs:  []string{"lastcall", "hand", "hand+deadline", "hand+contract", "fx", "oklog"},
			cols:  []column{{head: "µs", unit: "ns/op", scale: 1e3, prec: 2, ratio: true}, bytesOp, allocsOp},
		},
		{
			title: "Register one hook",
			bench: "Register",
			libs:  []string{"lastcall", "hand", "hand+handle", "fx", "oklog"},
			cols:  []column{nsOp, allocsOp, {head: "B retained/hook", unit: "B-retained/hook", scale: 1, prec: 1}},
		},
		{title: "One stage, 200 hooks sleeping 20 ms: 20 ms floor", bench: "Stage/hooks=200",
			libs: []string{"lastcall", "hand", "hand+errgroup", "hand+contract", "oklog", "fx"}, cols: stage},
		{title: "One stage, 10,000 hooks sleeping 20 ms: 20 ms floor", bench: "Stage/hooks=10000",
			libs: []string{"lastcall", "hand", "hand+errgroup", "hand+contract", "oklog"}, cols: stage},
		{title: "One stage, 200 hooks sleeping 20 ms, Limit(50): 4 waves, 80 ms floor", bench: "Stage/hooks=200/limit=50",
			libs: []string{"lastcall", "hand", "hand+errgroup", "hand+contract"}, cols: stage},
		{
			title: "A hook that ignores its context, timeout 300 ms, 4 other hooks",
			bench: "Hung",
			libs:  all,
			cols: []column{{head: "stop returned after (ms)", unit: "ms", scale: 1, prec: 1},
				{head: "others ran", unit: "others-ran", scale: 1, prec: 0},
				{head: "hung (> 1 s)", unit: "hung", scale: 1, prec: 0}},
		},
		procTable("SIGTERM to exit, whole process, 100,000 hooks", "Proc/sigterm/hooks=100000/lib=",
			append(slices.Clone(all), "hand+report", "hand+contract")),
		procTable("Second SIGTERM 200 ms into a 10 s hook", procSecond, all),
	}
}

func procTable(title, bench string, libs []string) table {
	return table{
		title: title,
		bench: strings.TrimSuffix(bench, "/lib="),
		libs:  libs,
		cols: []column{
			{head: "exit after SIGTERM, median (ms)", unit: "ns/op", scale: 1e6, prec: 3, ratio: true},
			{head: "p90", unit: "ms-p90", scale: 1, prec: 3},
			{head: "exec to ready, median (ms)", unit: "ms-ready", scale: 1, prec: 3, ratio: true},
			{head: "p90", unit: "ms-ready-p90", scale: 1, prec: 3},
			{head: "CPU (ms)", unit: "ms-cpu", scale: 1, prec: 2},
			{head: "status", unit: "exit-status", scale: 1, prec: 0},
			{head: "killed by the signal", unit: "killed", scale: 1, prec: 0},
			{head: "RSS at ready (MB)", unit: "ready-RSS-KiB", scale: 1e6 / 1024, prec: 1},
			{head: "peak RSS (MB)", unit: "peak-RSS-KiB", scale: 1e6 / 1024, prec: 1},
		},
	}
}

func printTable(r results, t table) {
	if !slices.ContainsFunc(t.libs, func(lib string) bool { _, ok := r[t.bench+"/lib="+lib]; return ok }) {
		return // not run
	}
	fmt.Printf("### %s\n\n", t.title)
	head := []string{"library"}
	for _, c := range t.cols {
		head = append(head, c.head)
		if c.ratio {
			head = append(head, "× lastcall")
		}
	}
	fmt.Printf("| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, lib := range t.libs {
		name := t.bench + "/lib=" + lib
		row := []string{lib}
		if _, ok := r[name]; !ok {
			row = append(row, "not run")
			for range len(head) - 2 {
				row = append(row, "")
			}
			fmt.Printf("| %s |\n", strings.Join(row, " | "))
			continue
		}
		for _, c := range t.cols {
			v, ok := r.get(name, c.unit)
			if !ok {
				row = append(row, "–")
			} else {
				row = append(row, strconv.FormatFloat(v/c.scale, 'f', c.prec, 64))
			}
			if c.ratio {
				base, ok2 := r.get(t.bench+"/lib=lastcall", c.unit)
				if ok && ok2 && base > 0 {
					row = append(row, fmt.Sprintf("%.2f×", v/base))
				} else {
					row = append(row, "–")
				}
			}
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	fmt.Println()
	if strings.HasPrefix(t.bench, "Proc/") {
		if d, ok := r.get("Proc/driver", "peak-RSS-KiB"); ok {
			fmt.Printf("Peak RSS (getrusage's maxrss) cannot be below the driver's own peak, %.1f MB: exec folds the peak of the address space it replaces, the driver's (os/exec starts programs with vfork), into the program's. RSS at ready is the program's own VmHWM before the signal.\n\n", d*1024/1e6)
		}
	}
}

// printLibrary prints the library's own benchmarks (shutdown/bench_test.go).
func printLibrary(r results) {
	var names []string
	for n := range r {
		if strings.Contains(n, "/lib=") || strings.HasPrefix(n, "Proc/") || strings.HasPrefix(n, "Size/") {
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	units := []string{"ns/op", "ns/hook", "B/op", "allocs/op", "allocs/hook", "B-retained/hook", "x-floor", "peak", "ms", "others-ran"}
	fmt.Printf("### The library's own benchmarks (shutdown/bench_test.go)\n\n| benchmark | %s |\n|%s\n",
		strings.Join(units, " | "), strings.Repeat(" --- |", len(units)+1))
	for _, n := range names {
		row := []string{n}
		for _, u := range units {
			if v, ok := r.get(n, u); ok {
				row = append(row, strconv.FormatFloat(v, 'g', 4, 64))
			} else {
				row = append(row, "")
			}
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	fmt.Println()
}
