package gostd_test

import (
	"bytes"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib/unsafe"

	"gantry/kernel/gostd"
)

func newInterp(t *testing.T) (*interp.Interpreter, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	i := interp.New(interp.Options{Stdout: &out, Stderr: &out, SourcecodeFilesystem: gostd.Sources("")})
	if err := gostd.Use(i); err != nil {
		t.Fatalf("gostd.Use: %v", err)
	}
	if err := i.Use(unsafe.Symbols); err != nil {
		t.Fatal(err)
	}
	return i, &out
}

// Each case is a program body run inside func main of a fresh interpreter
// (imports first); its output must equal want.
func TestPackages(t *testing.T) {
	cases := []struct {
		name    string
		imports string
		body    string
		want    string
	}{
		{"slices sort and search", `"fmt"; "slices"`, `
			s := []int{5, 2, 8, 1}
			slices.Sort(s)
			i, found := slices.BinarySearch(s, 5)
			fmt.Println(s, slices.Min(s), slices.Max(s), slices.Index(s, 8), slices.Contains(s, 3), i, found)`,
			"[1 2 5 8] 1 8 3 false 2 true\n"},
		{"slices edit", `"fmt"; "slices"`, `
			s := []int{1, 1, 2, 3, 3}
			s = slices.Compact(s)
			s = slices.Insert(s, 1, 9)
			s = slices.Delete(s, 0, 1)
			c := slices.Clone(s)
			slices.Reverse(c)
			fmt.Println(s, c, slices.Equal(s, c), slices.Repeat([]string{"a"}, 3))`,
			"[9 2 3] [3 2 9] false [a a a]\n"},
		{"slices funcs", `"fmt"; "slices"; "strings"`, `
			w := []string{"pear", "fig", "apple"}
			slices.SortFunc(w, func(a, b string) int { return len(a) - len(b) })
			fmt.Println(w, slices.IndexFunc(w, func(s string) bool { return strings.HasPrefix(s, "a") }),
				slices.ContainsFunc(w, func(s string) bool { return s == "kiwi" }))`,
			"[fig pear apple] 2 false\n"},
		{"slices sort large", `"fmt"; "slices"; "math/rand/v2"`, `
			r := rand.New(rand.NewPCG(1, 2))
			s := make([]int, 3000)
			for i := range s {
				s[i] = r.IntN(1000)
			}
			slices.Sort(s)
			f := make([]float64, 2000)
			for i := range f {
				f[i] = r.Float64()
			}
			slices.SortStableFunc(f, func(a, b float64) int { if a > b { return -1 }; if a < b { return 1 }; return 0 })
			fmt.Println(slices.IsSorted(s), f[0] >= f[1999])`,
			"true true\n"},
		{"slices iterators", `"fmt"; "slices"`, `
			s := []string{"a", "b", "c"}
			all := slices.All(s)
			all(func(i int, v string) bool { fmt.Print(i, v, " "); return true })
			fmt.Println(slices.Collect(slices.Values(s)), slices.Sorted(slices.Values([]int{3, 1, 2})))
			for _, c := range slices.Collect(slices.Chunk([]int{1, 2, 3, 4, 5}, 2)) {
				fmt.Print(c)
			}
			fmt.Println()`,
			"0a 1b 2c [a b c] [1 2 3]\n[1 2][3 4][5]\n"},
		{"maps", `"fmt"; "maps"; "slices"`, `
			m := map[string]int{"b": 2, "a": 1, "c": 3}
			c := maps.Clone(m)
			maps.DeleteFunc(c, func(k string, v int) bool { return v > 1 })
			fmt.Println(slices.Sorted(maps.Keys(m)), slices.Sorted(maps.Values(m)), c, maps.Equal(m, c))
			d := maps.Collect(slices.All([]string{"x", "y"}))
			maps.Copy(d, map[int]string{5: "z"})
			fmt.Println(d)`,
			"[a b c] [1 2 3] map[a:1] false\nmap[0:x 1:y 5:z]\n"},
		{"cmp", `"fmt"; "cmp"`, `
			fmt.Println(cmp.Compare(1, 2), cmp.Compare("b", "a"), cmp.Less(1.5, 2.5), cmp.Or("", "x", "y"))`,
			"-1 1 true x\n"},
		{"iter pull", `"fmt"; "iter"; "slices"; "maps"`, `
			next, stop := iter.Pull(slices.Values([]int{10, 20}))
			a, ok1 := next()
			b, ok2 := next()
			_, ok3 := next()
			stop()
			next2, stop2 := iter.Pull2(maps.All(map[string]int{"k": 7}))
			k, v, ok4 := next2()
			stop2()
			var seq iter.Seq[int] = slices.Values([]int{1})
			fmt.Println(a, ok1, b, ok2, ok3, k, v, ok4, slices.Collect(seq))`,
			"10 true 20 true false k 7 true [1]\n"},
		{"unique", `"fmt"; "unique"`, `
			a, b := unique.Make("go"), unique.Make("go")
			fmt.Println(a == b, a.Value(), unique.Make(1) == unique.Make(2))`,
			"true go false\n"},
		{"strings and bytes iterators", `"fmt"; "slices"; "strings"; "bytes"`, `
			fmt.Printf("%q\n", slices.Collect(strings.Lines("a\nb\n")))
			fmt.Println(slices.Collect(strings.SplitSeq("x,y", ",")), slices.Collect(strings.FieldsSeq(" p  q ")))
			for _, b := range slices.Collect(bytes.SplitSeq([]byte("1-2"), []byte("-"))) {
				fmt.Print(string(b))
			}
			fmt.Println()`,
			"[\"a\\n\" \"b\\n\"]\n[x y] [p q]\n12\n"},
		{"math/rand/v2", `"fmt"; "math/rand/v2"`, `
			r := rand.New(rand.NewPCG(1, 2))
			x := r.IntN(100)
			r2 := rand.New(rand.NewPCG(1, 2))
			fmt.Println(x == r2.IntN(100), rand.IntN(10) < 10)`,
			"true true\n"},
		{"unsafe", `"fmt"; "unsafe"`, `
			var x int64 = 42
			p := unsafe.Pointer(&x)
			fmt.Println(unsafe.Sizeof(x), *(*int64)(p))`,
			"8 42\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, out := newInterp(t)
			src := "package main\n\nimport (\n" + strings.ReplaceAll(c.imports, "; ", "\n") + "\n)\n\nfunc main() {" + c.body + "\n}\n"
			if _, err := i.Eval(src); err != nil {
				t.Fatalf("eval: %v\n%s", err, src)
			}
			if got := out.String(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// The tables are the running Go's: every standard package with exported
// non-generic symbols has one, and symbols newer than yaegi's Go 1.22
// tables are there.
func TestTablesCoverRunningGo(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(string(out)); v != runtime.Version() {
		t.Skipf("the go command is %s, the test binary %s", v, runtime.Version())
	}
	list, err := exec.Command(goCmd, "list", "std").Output()
	if err != nil {
		t.Fatal(err)
	}
	generic := map[string]bool{ // packages of generic symbols only (from source in Use, or not at all), or none
		"cmp": true, "iter": true, "maps": true, "slices": true, "unique": true, "weak": true,
		"crypto/hkdf": true, "crypto/pbkdf2": true, "time/tzdata": true,
	}
	skipped := map[string]bool{"unsafe": true, "syscall": true, "syscall/js": true, "plugin": true,
		"runtime/cgo": true, "runtime/race": true, "runtime/msan": true, "runtime/asan": true, "builtin": true,
		"structs": true}
	have := map[string]bool{}
	for k := range gostd.Symbols {
		if i := strings.LastIndexByte(k, '/'); i > 0 {
			have[k[:i]] = true
		}
	}
	for _, p := range strings.Fields(string(list)) {
		if strings.Contains(p, "internal") || strings.HasPrefix(p, "vendor/") || strings.HasPrefix(p, "cmd/") ||
			strings.HasPrefix(p, "simd") || generic[p] || skipped[p] {
			continue
		}
		if !have[p] {
			t.Errorf("no symbol table for %s: run go generate in kernel/gostd with %s", p, runtime.Version())
		}
	}
	for _, sym := range []string{"strings/strings.Lines", "bytes/bytes.SplitSeq", "os/os.OpenRoot", "crypto/sha3/sha3.Sum256",
		"math/rand/v2/rand.IntN", "testing/synctest/synctest.Test"} {
		i := strings.LastIndexByte(sym, '.')
		if _, ok := gostd.Symbols[sym[:i]][sym[i+1:]]; !ok {
			t.Errorf("%s missing from the tables", sym)
		}
	}
}

// The cost of a fresh interpreter with the standard library (each kernel
// start and %reset pays it).
func BenchmarkUse(b *testing.B) {
	for b.Loop() {
		i := interp.New(interp.Options{SourcecodeFilesystem: gostd.Sources("")})
		if err := gostd.Use(i); err != nil {
			b.Fatal(err)
		}
	}
}

// The cost of the first import of the generic packages (a cell pays it
// once per interpreter).
func BenchmarkImportGeneric(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		i := interp.New(interp.Options{SourcecodeFilesystem: gostd.Sources("")})
		if err := gostd.Use(i); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := i.Eval(`import ("slices"; "maps"; "unique")`); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnsupported(t *testing.T) {
	cases := []struct {
		pkg, name string
		ok        bool
	}{
		{"unsafe", "Slice", true},
		{"unsafe", "Pointer", false},
		{"sync", "OnceValue", true},
		{"sync", "Once", false},
		{"math/rand/v2", "N", true},
		{"strings", "Lines", false},
	}
	for _, c := range cases {
		why, ok := gostd.Unsupported(c.pkg, c.name)
		if ok != c.ok || (ok && why == "") {
			t.Errorf("Unsupported(%q, %q) = %q, %v; want ok %v", c.pkg, c.name, why, ok, c.ok)
		}
	}
	if _, ok := gostd.UnsupportedPackage("weak"); !ok {
		t.Error(`UnsupportedPackage("weak") is false: weak has only generic symbols`)
	}
	if _, ok := gostd.UnsupportedPackage("slices"); ok {
		t.Error(`UnsupportedPackage("slices") is true: slices is compiled from source`)
	}
}
