// Command report reads Go benchmark output (the library's benchmarks,
// bench/compare and cmd/procbench) and prints one Markdown table per
// workload: each library's figures, its ratio to lastcall's, and whether
// lastcall meets the workload's target. Repeated runs of a benchmark
// (-count) are reduced to their median.
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

// column is one figure of a table: a metric, scaled and formatted.
type column struct {
	head  string
	unit  string
	scale float64 // value printed = metric / scale
	prec  int
	ratio bool // add a "× lastcall" column after it
}

var (
	ms       = column{head: "time", unit: "ns/op", scale: 1e6, prec: 3, ratio: true}
	nsOp     = column{head: "ns/op", unit: "ns/op", scale: 1, prec: 1, ratio: true}
	allocsOp = column{head: "allocs/op", unit: "allocs/op", scale: 1, prec: 0}
	bytesOp  = column{head: "B/op", unit: "B/op", scale: 1, prec: 0}
)

type table struct {
	title string
	bench string // the name before /lib=
	libs  []string
	cols  []column
	notes func(r results) []string
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	r, env := parse(flag.Args())
	fmt.Printf("%s\n\n", strings.Join(env, "; "))

	verdicts := []string{}
	check := func(ok bool, format string, args ...any) string {
		s := fmt.Sprintf(format, args...)
		mark := "met"
		switch {
		case strings.Contains(s, "NaN"):
			mark = "not measured"
		case !ok:
			mark = "**MISSED**"
		}
		verdicts = append(verdicts, fmt.Sprintf("- %s: %s", mark, s))
		return fmt.Sprintf("%s: %s", mark, s)
	}
	val := func(name, unit string) float64 { v, _ := r.get(name, unit); return v }

	all := []string{"lastcall", "hand", "fx", "oklog"}
	tables := []table{
		{
			title: "Stop of 100,000 no-op hooks, in-process",
			bench: "Stop/hooks=100000",
			libs:  []string{"lastcall", "hand", "hand+clock", "hand+report", "fx", "oklog"},
			cols:  []column{ms, bytesOp, allocsOp},
			notes: func(r results) []string {
				l, h, f := val("Stop/hooks=100000/lib=lastcall", "ns/op"), val("Stop/hooks=100000/lib=hand", "ns/op"), val("Stop/hooks=100000/lib=fx", "ns/op")
				hr := val("Stop/hooks=100000/lib=hand+report", "ns/op")
				a10, a100k := val("Shutdown/seq/hooks=10", "allocs/op"), val("Shutdown/seq/hooks=100000", "allocs/op")
				return []string{
					check(l <= 3*h, "≤ 3× the hand loop: %.1f× (floor: hand+report is %.1f× the hand loop; lastcall is %.2f× hand+report)", l/h, hr/h, l/hr),
					check(f >= 50*l, "≥ 50× faster than fx: %.1f×", f/l),
					check(a100k <= a10, "0 allocations per no-op hook: %.0f allocs per shutdown of 100,000 hooks, %.0f for 10 (%.5f per hook)", a100k, a10, val("Stop/hooks=100000/lib=lastcall", "allocs/hook")),
				}
			},
		},
		{
			title: "Register one hook",
			bench: "Register",
			libs:  []string{"lastcall", "hand", "hand+handle", "fx", "oklog"},
			cols:  []column{nsOp, allocsOp, {head: "B retained/hook", unit: "B-retained/hook", scale: 1, prec: 1}},
			notes: func(r results) []string {
				n := "Register/lib=lastcall"
				return []string{
					check(val(n, "ns/op") <= 100, "≤ 100 ns/op: %.1f (hand+handle, a minimal registry that returns a handle: %.1f)", val(n, "ns/op"), val("Register/lib=hand+handle", "ns/op")),
					check(val(n, "allocs/op") <= 2, "≤ 2 allocs/op: %.0f", val(n, "allocs/op")),
					check(val(n, "B-retained/hook") <= 128, "≤ 128 B retained per hook: %.1f", val(n, "B-retained/hook")),
				}
			},
		},
		stageTable("One stage, 200 hooks sleeping 20 ms", "Stage/hooks=200", 1.15, check, val),
		stageTable("One stage, 10,000 hooks sleeping 20 ms", "Stage/hooks=10000", 2, check, val),
		{
			title: "One stage, 200 hooks sleeping 20 ms, Limit(50): 4 waves, 80 ms floor",
			bench: "Stage/hooks=200/limit=50",
			libs:  []string{"lastcall", "hand"},
			cols:  []column{ms, {head: "× floor", unit: "x-floor", scale: 1, prec: 3}, {head: "peak running", unit: "peak", scale: 1, prec: 0}},
			notes: func(r results) []string {
				n := "Stage/hooks=200/limit=50/lib=lastcall"
				x, p := val(n, "x-floor"), val(n, "peak")
				return []string{check(p <= 50 && x < 1.25, "⌈200/50⌉ = 4 waves and no more: %.3f× the 4-wave floor (a 5th wave would be ≥ 1.25×), at most %.0f running", x, p)}
			},
		},
		{
			title: "A hook that ignores its context, timeout 300 ms, 4 other hooks",
			bench: "Hung",
			libs:  all,
			cols: []column{{head: "stop returned after", unit: "ms", scale: 1, prec: 1},
				{head: "others ran", unit: "others-ran", scale: 1, prec: 0},
				{head: "hung (> 1 s)", unit: "hung", scale: 1, prec: 0}},
			notes: func(r results) []string {
				n := "Hung/lib=lastcall"
				return []string{check(val(n, "ms") <= 310 && val(n, "others-ran") == 4 && val(n, "hung") == 0,
					"done ≤ 310 ms after the trigger with all 4 others run: %.1f ms, %.0f ran", val(n, "ms"), val(n, "others-ran"))}
			},
		},
		procTable("SIGTERM to exit, whole process, 0 hooks", "Proc/sigterm/hooks=0",
			append(slices.Clone(all), "hand+nethttp", "hand+stdio"), func(r results) []string {
				p := "Proc/sigterm/hooks=0/lib="
				l, h := val(p+"lastcall", "ns/op"), val(p+"hand", "ns/op")
				hn, hs := val(p+"hand+nethttp", "ns/op"), val(p+"hand+stdio", "ns/op")
				return []string{check(l <= 1.2*h, "≤ 1.2× the signal.NotifyContext program: %.2f× (floors: hand+nethttp is %.2f× hand, hand+stdio %.2f×; lastcall is %.2f× hand+nethttp)",
					l/h, hn/h, hs/h, l/hn)}
			}),
		procTable("SIGTERM to exit, whole process, 100,000 hooks", "Proc/sigterm/hooks=100000",
			append(slices.Clone(all), "hand+report"), func(r results) []string {
				n := "Proc/sigterm/hooks=100000/lib=lastcall"
				hr := "Proc/sigterm/hooks=100000/lib=hand+report"
				return []string{
					check(val(n, "ns/op") <= 5e6, "≤ 5 ms: %.2f ms (floor: hand+report %.2f ms)", val(n, "ns/op")/1e6, val(hr, "ns/op")/1e6),
					check(val(n, "peak-RSS-KiB")*1024 <= 12e6, "peak RSS ≤ 12 MB: %.1f MB (floor: hand+report %.1f MB)",
						val(n, "peak-RSS-KiB")*1024/1e6, val(hr, "peak-RSS-KiB")*1024/1e6),
				}
			}),
		procTable("Second SIGTERM 200 ms into a 10 s hook", "Proc/second-sigterm/hook=10s", all, func(r results) []string {
			n := "Proc/second-sigterm/hook=10s/lib=lastcall"
			return []string{check(val(n, "ns/op") <= 205e6 && val(n, "exit-status") == 143,
				"exit ≤ 205 ms after the first signal, status 143: %.1f ms, status %.0f", val(n, "ns/op")/1e6, val(n, "exit-status"))}
		}),
	}

	for _, t := range tables {
		printTable(r, t)
	}
	printLibrary(r)
	fmt.Printf("### Targets\n\n%s\n", strings.Join(verdicts, "\n"))
}

func stageTable(title, bench string, target float64, check func(bool, string, ...any) string, val func(string, string) float64) table {
	return table{
		title: title + ": 20 ms floor",
		bench: bench,
		libs:  []string{"lastcall", "hand", "oklog", "fx"},
		cols:  []column{ms, {head: "× floor", unit: "x-floor", scale: 1, prec: 3}, {head: "peak running", unit: "peak", scale: 1, prec: 0}},
		notes: func(r results) []string {
			x := val(bench+"/lib=lastcall", "x-floor")
			return []string{check(x <= target, "≤ %.2f× the floor: %.3f×", target, x)}
		},
	}
}

func procTable(title, bench string, libs []string, notes func(results) []string) table {
	return table{
		title: title,
		bench: bench,
		libs:  libs,
		cols: []column{
			{head: "exit after SIGTERM, median", unit: "ns/op", scale: 1e6, prec: 2, ratio: true},
			{head: "p90", unit: "ms-p90", scale: 1, prec: 2},
			{head: "status", unit: "exit-status", scale: 1, prec: 0},
			{head: "killed by the signal", unit: "killed", scale: 1, prec: 0},
			{head: "peak RSS (MB)", unit: "peak-RSS-KiB", scale: 1e6 / 1024, prec: 1},
		},
		notes: notes,
	}
}

func printTable(r results, t table) {
	fmt.Printf("### %s\n\n", t.title)
	head := []string{"library"}
	for _, c := range t.cols {
		h := c.head
		if c.unit == "ns/op" && c.scale == 1e6 && !strings.Contains(h, "(") {
			h += " (ms)"
		}
		head = append(head, h)
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
	if t.notes != nil {
		for _, n := range t.notes(r) {
			fmt.Printf("- %s\n", n)
		}
		fmt.Println()
	}
}

// printLibrary prints the library's own benchmarks (shutdown/bench_test.go).
func printLibrary(r results) {
	var names []string
	for n := range r {
		if strings.Contains(n, "/lib=") || strings.HasPrefix(n, "Proc/") {
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
