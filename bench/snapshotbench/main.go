// Command snapshotbench drives gantry/sdk/snapshot for bench/snapshot.sh.
//
//	snapshotbench -gen DIR [-files N] [-bytes N]   write a tree of random files
//	snapshotbench [-workers N] [-no-cache] ROOT STORE
//
// The second form takes one snapshot of ROOT into the blob store STORE and
// prints one line: wall milliseconds, then the Stats that matter.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/snapshot"
)

func main() {
	gen := flag.String("gen", "", "write a tree of random files into this directory, then exit")
	files := flag.Int("files", 10000, "with -gen: number of files")
	total := flag.Int64("bytes", 200_000_000, "with -gen: total size of the files")
	workers := flag.Int("workers", 0, "files read at once (0: GOMAXPROCS)")
	noCache := flag.Bool("no-cache", false, "neither use nor save the stat cache")
	flag.Parse()
	if *gen != "" {
		if err := generate(*gen, *files, *total); err != nil {
			fmt.Fprintln(os.Stderr, "snapshotbench:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: snapshotbench [-workers N] [-no-cache] ROOT STORE | snapshotbench -gen DIR")
		os.Exit(2)
	}
	store, err := snapshot.NewBlobStore(flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapshotbench:", err)
		os.Exit(1)
	}
	start := time.Now()
	m, st, err := snapshot.Take(context.Background(), flag.Arg(0), store,
		snapshot.Options{MaxFiles: -1, MaxBytes: -1, Workers: *workers, NoCache: *noCache})
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapshotbench:", err)
		os.Exit(1)
	}
	fmt.Printf("%.1f ms  files=%d bytes=%d hashed=%d hashed_bytes=%d cached=%d stored=%d id=%s\n",
		float64(wall.Microseconds())/1000, st.Files, st.Bytes, st.HashedFiles, st.HashedBytes, st.Cached, st.StoredBlobs, m.ID()[:12])
}

// generate writes n files of random content totalling about total bytes,
// 100 to a directory, two levels deep: 99.5% small files of 1-40 kB (half
// the bytes) and every 200th file large, holding the other half.
func generate(dir string, n int, total int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	large := max(n/200, 1)
	small := n - large
	smallAvg := total / 2 / int64(small)
	largeSize := (total - smallAvg*int64(small)) / int64(large)
	buf := make([]byte, largeSize+1)
	for i := range n {
		size := largeSize
		if i%200 != 199 {
			size = smallAvg/4 + r.Int64N(smallAvg*3/2+1)
		}
		for j := 0; j < int(size); j += 8 {
			v := r.Uint64()
			for k := 0; k < 8 && j+k < int(size); k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i/1000), fmt.Sprintf("e%d", i/100%10), fmt.Sprintf("f%05d.dat", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf[:size], 0o644); err != nil {
			return err
		}
	}
	return nil
}
