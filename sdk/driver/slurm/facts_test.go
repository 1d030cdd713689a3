package slurm

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseKeyValues(t *testing.T) {
	line := "JobId=7 JobName=gantry-x JobState=COMPLETING Reason=NodeDown Dependency=(null) NodeList=c-[1-2] " +
		"Command=/bin/sh -c x=1 Comment=a b"
	kv := ParseKeyValues(line)
	for k, want := range map[string]string{"JobId": "7", "JobState": "COMPLETING", "Reason": "NodeDown",
		"NodeList": "c-[1-2]", "Command": "/bin/sh -c x=1", "Comment": "a b"} {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q", k, kv[k], want)
		}
	}
	node := ParseKeyValues("NodeName=c-2 Arch=x86_64 State=DOWN+CLOUD+NOT_RESPONDING Reason=Not responding [root@2026-12-05T19:35:12]")
	if node["State"] != "DOWN+CLOUD+NOT_RESPONDING" || node["Reason"] != "Not responding [root@2026-12-05T19:35:12]" {
		t.Errorf("node: %q", node)
	}
}

// fakeScontrol answers scontrol as a Slurm with one job on two nodes.
func fakeScontrol(job string, nodes map[string]string) func(ctx context.Context, name string, args ...string) ([]byte, error) {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		a := strings.Join(args, " ")
		switch {
		case strings.HasPrefix(a, "--oneliner show job"):
			return []byte(job), nil
		case strings.HasPrefix(a, "show hostnames"):
			return []byte("c-1\nc-2\n"), nil
		case strings.HasPrefix(a, "--oneliner show node "):
			n := strings.TrimPrefix(a, "--oneliner show node ")
			return []byte("NodeName=" + n + " " + nodes[n]), nil
		}
		return nil, errors.New("unexpected " + name + " " + a)
	}
}

func TestJobFactsCause(t *testing.T) {
	for _, tc := range []struct {
		name, job, nodeList string
		nodes               map[string]string
		want                string
	}{
		{"lost node", "JobState=COMPLETING Reason=NodeDown NodeList=c-1", "c-[1-2]",
			map[string]string{"c-1": "State=ALLOCATED", "c-2": "State=DOWN+NOT_RESPONDING Reason=Not responding"},
			"node c-2 failed (Slurm: DOWN+NOT_RESPONDING, Not responding); Slurm: job 9 COMPLETING (NodeDown)"},
		{"node fail, nodes unknown", "JobState=NODE_FAIL Reason=NodeDown NodeList=(null)", "", nil,
			"a node of the job failed; Slurm: job 9 NODE_FAIL (NodeDown)"},
		{"time limit", "JobState=TIMEOUT Reason=None NodeList=c-1", "", map[string]string{"c-1": "State=IDLE"},
			"Slurm's time limit ended it; Slurm: job 9 TIMEOUT"},
		{"scancel", "JobState=CANCELLED Reason=None NodeList=c-1", "", map[string]string{"c-1": "State=IDLE"},
			"the job was cancelled in Slurm (scancel), not through Gantry; Slurm: job 9 CANCELLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadJobFacts(context.Background(), fakeScontrol(tc.job, tc.nodes), "9", tc.nodeList)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Cause(); got != tc.want {
				t.Errorf("Cause() = %q\nwant      %q", got, tc.want)
			}
		})
	}
}
