package pipeline

// Tests against a real Spark standalone cluster: scripts/spark.sh's master
// and two workers, one cluster per test process (or the one in
// $GANTRY_SPARK_DIR, which `make test` starts once for every package).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry/sdk"
	"gantry/sdk/workspace"
)

type cluster struct {
	dir, master, secret, submit string
}

var (
	sparkOnce    sync.Once
	sparkCluster *cluster
	sparkErr     error
	sparkStarted bool // by this process: stopped in TestMain
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sparkStarted {
		exec.Command(filepath.Join(root(), "scripts", "spark.sh"), "stop", sparkCluster.dir).Run()
		os.RemoveAll(sparkCluster.dir)
	}
	os.Exit(code)
}

// sparkFor returns the test process's Spark cluster, starting it on first
// use. A machine without a JDK or pyspark fails the test: `make setup`
// installs both.
func sparkFor(t *testing.T) *cluster {
	t.Helper()
	sparkOnce.Do(func() {
		script := filepath.Join(root(), "scripts", "spark.sh")
		dir := os.Getenv("GANTRY_SPARK_DIR")
		if dir == "" {
			d, err := os.MkdirTemp("", "gantry-spark-test")
			if err != nil {
				sparkErr = err
				return
			}
			dir = d
			sparkStarted = true
		}
		if out, err := exec.Command(script, "start", dir).CombinedOutput(); err != nil {
			sparkErr = fmt.Errorf("scripts/spark.sh start %s: %v\n%s", dir, err, out)
			return
		}
		sparkCluster = &cluster{dir: dir, submit: filepath.Join(root(), ".venv", "bin", "spark-submit")}
		env, err := exec.Command(script, "env", dir).Output()
		if err != nil {
			sparkErr = err
			return
		}
		for _, l := range strings.Split(string(env), "\n") {
			l = strings.TrimPrefix(l, "export ")
			if v, ok := strings.CutPrefix(l, "SPARK_MASTER_URL="); ok {
				sparkCluster.master = v
			}
			if v, ok := strings.CutPrefix(l, "SPARK_SECRET="); ok {
				sparkCluster.secret = v
			}
		}
	})
	if sparkErr != nil {
		t.Fatal(sparkErr)
	}
	return sparkCluster
}

func TestSparkTargetAttachSubmitAndAWorkerKilledMidStep(t *testing.T) {
	ws := testWorkspace(t)
	c := sparkFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conf := sdk.SparkCompute{Master: c.master, SecretEnv: "TEST_SPARK_SECRET", SparkSubmit: c.submit,
		Conf: map[string]string{"spark.executor.memory": "512m", "spark.task.maxFailures": "4"}}

	// Unreachable, at attach and at submit: said at once.
	t.Setenv("TEST_SPARK_SECRET", c.secret)
	gone := conf
	gone.Master = "spark://127.0.0.1:1"
	if _, err := ws.AttachSparkCompute(ctx, "gone", gone); err == nil || !strings.Contains(err.Error(), "out of reach") {
		t.Errorf("attach to no master: %v", err)
	}
	// A wrong secret is refused at attach, and nothing is saved.
	t.Setenv("TEST_SPARK_SECRET", "not-the-secret")
	if _, err := ws.AttachSparkCompute(ctx, "lake", conf); err == nil || !strings.Contains(err.Error(), "refused the secret") {
		t.Fatalf("attach with a wrong secret: %v", err)
	}
	if _, err := ws.Store().Target(ctx, "lake"); err == nil {
		t.Fatal("a target that refused the secret was saved")
	}
	t.Setenv("TEST_SPARK_SECRET", c.secret)
	info, err := ws.AttachSparkCompute(ctx, "lake", conf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || !strings.HasPrefix(info.ApplicationID, "app-") {
		t.Errorf("probe: %+v", info)
	}
	cfg, _ := ws.Store().Target(ctx, "lake")
	if strings.Contains(string(cfg.Config), c.secret) {
		t.Fatal("the secret is in the stored configuration")
	}

	dir := t.TempDir()
	python, _ := filepath.Abs(filepath.Join(root(), ".venv", "bin", "python"))
	write(t, filepath.Join(dir, "data", "raw.csv"), "x,y\n1,2\n-1,3\n4,5\n7,1\n")
	write(t, filepath.Join(dir, "sp", "clean.sql"), "-- rows with a positive x\nSELECT x, y FROM raw WHERE x > 0;\n")
	write(t, filepath.Join(dir, "sp", "slow.py"), `import os, time
from pyspark.sql import SparkSession
import gantry_run
spark = SparkSession.builder.getOrCreate()
df = spark.read.option("header", "true").option("inferSchema", "true").csv(os.environ["GANTRY_INPUT_CLEAN"])
rows = df.count()
print("GANTRY-TEST tasks starting", flush=True)
def slow(i):
    time.sleep(4)
    return i
total = spark.sparkContext.parallelize(range(8), 8).map(slow).sum()
print("GANTRY-TEST total", total, "rows", rows, flush=True)
gantry_run.log("rows", rows)
os.makedirs(os.environ["GANTRY_OUTPUT_REPORT"], exist_ok=True)
open(os.path.join(os.environ["GANTRY_OUTPUT_REPORT"], "r.txt"), "w").write(str(rows))
spark.stop()
`)
	p := &Pipeline{Name: "spark", Inputs: map[string]string{"raw": filepath.Join(dir, "data", "raw.csv")}, Steps: []Step{
		{Name: "clean", Kind: SQLStep, Target: "lake", SourceDirectory: filepath.Join(dir, "sp"), Script: "clean.sql",
			Inputs: map[string]string{"raw": "raw"}, Outputs: []string{"clean"}, EnvironmentFile: python},
		{Name: "slow", Kind: SparkStep, Target: "lake", SourceDirectory: filepath.Join(dir, "sp"), Script: "slow.py",
			Inputs: map[string]string{"clean": "clean.clean"}, Outputs: []string{"report"}, EnvironmentFile: python},
	}}
	pr, err := Submit(ctx, ws, "spark", p)
	if err != nil {
		t.Fatal(err)
	}
	// Kill worker 1 (with its executors) once the slow step's tasks run.
	var out safeBuilder
	done := make(chan struct{})
	var st workspace.State
	var waitErr error
	go func() {
		defer close(done)
		st, waitErr = pr.WaitForCompletion(ctx, WaitOptions{Output: &out})
	}()
	killed := false
	for !killed {
		select {
		case <-done:
			t.Fatalf("the pipeline ended (%s, %v) before the worker could be killed:\n%s", st, waitErr, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if strings.Contains(out.String(), "GANTRY-TEST tasks starting") {
			time.Sleep(3 * time.Second)
			pid, err := os.ReadFile(filepath.Join(c.dir, "run", "worker-1.pid"))
			if err != nil {
				t.Fatal(err)
			}
			if err := exec.Command("kill", "-KILL", "--", "-"+strings.TrimSpace(string(pid))).Run(); err != nil {
				t.Fatalf("kill worker 1: %v", err)
			}
			killed = true
		}
	}
	t.Cleanup(func() { exec.Command(filepath.Join(root(), "scripts", "spark.sh"), "worker", c.dir, "1").Run() })
	<-done
	if waitErr != nil {
		t.Fatalf("wait: %v", waitErr)
	}
	steps, _ := pr.Steps(ctx)
	// Spark's retry finishes the job on the other worker, or the run
	// fails with a reason: never stuck.
	if st == workspace.StateCompleted {
		if !strings.Contains(out.String(), "GANTRY-TEST total 28 rows 3") {
			t.Errorf("the slow step's result is missing:\n%s", out.String())
		}
		r, _ := ws.Run(ctx, steps[1].RunID)
		m, _ := r.Metrics(ctx)
		if fmt.Sprint(m) == "" || !strings.Contains(fmt.Sprint(m), "rows") {
			t.Errorf("gantry_run's metric from the Spark driver is missing: %v", m)
		}
	} else if steps[1].Reason == "" {
		t.Errorf("the step ended %s without a reason", st)
	}
	t.Logf("after a worker was killed mid-step the pipeline ended %s; steps %+v", st, steps)

	// A run submitted with a wrong secret fails, saying so.
	t.Setenv("TEST_SPARK_SECRET", "not-the-secret")
	r, err := ws.Experiment("spark").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: filepath.Join(dir, "sp"), Script: "slow.py",
		RunConfig: sdk.RunConfiguration{Target: "lake"}})
	if err != nil {
		t.Fatal(err)
	}
	var rout strings.Builder
	if st, _, _ := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: &rout}); st != workspace.StateFailed || !strings.Contains(rout.String(), "refused the secret") {
		t.Errorf("a run with a wrong secret ended %s; its output:\n%s", st, tailLines(rout.String(), 5))
	}
	// An unset secret variable is refused at submit.
	os.Unsetenv("TEST_SPARK_SECRET")
	if _, err := ws.Experiment("spark").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: filepath.Join(dir, "sp"), Script: "slow.py",
		RunConfig: sdk.RunConfiguration{Target: "lake"}}); err == nil || !strings.Contains(err.Error(), "TEST_SPARK_SECRET") {
		t.Errorf("submit without the secret's variable: %v", err)
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// safeBuilder is a strings.Builder safe for one writer and one reader.
type safeBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
