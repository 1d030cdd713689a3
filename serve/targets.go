package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"gantry/sdk"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/workspace"
)

// targetJSON is a compute target as the API shows it. Config is the
// target's stored configuration, which never holds a secret: SSH
// passwords and passphrases given on attach stay in this process's memory.
type targetJSON struct {
	Name    string          `json:"name"`
	Kind    string          `json:"kind"`  // local, ssh or slurm (a managed cluster)
	State   string          `json:"state"` // its provisioning state
	Created millis          `json:"created"`
	Updated millis          `json:"updated"`
	Config  json.RawMessage `json:"config"`
	// Runs counts its runs in each state that is not final.
	Runs map[string]int `json:"runs"`
	// Cluster is a managed cluster's nodes and jobs now; ClusterError says
	// why they could not be read.
	Cluster      *clusterJSON `json:"cluster,omitempty"`
	ClusterError string       `json:"cluster_error,omitempty"`
}

type clusterJSON struct {
	Nodes   []nodeJSON     `json:"nodes"`
	Counts  map[string]int `json:"counts"` // nodes by state: powered down, booting, idle, busy, ...
	Queued  int            `json:"queued"` // runs waiting for nodes
	Running int            `json:"running"`
}

type nodeJSON struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Slurm string `json:"slurm"` // Slurm's own word for it
}

// clusterStatusTimeout bounds how long listing targets waits for a
// cluster's Slurm to answer.
const clusterStatusTimeout = 5 * time.Second

func (s *Server) workspace(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"dir": s.WS.Dir()})
}

func (s *Server) listTargets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ts, err := s.WS.ComputeTargets(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	active, err := s.WS.Store().ActiveRuns(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]targetJSON, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		out[i] = targetJSON{Name: t.Name, Kind: string(t.Kind), State: string(t.ProvisioningState),
			Created: millis(t.Created), Updated: millis(t.Updated), Config: t.Config, Runs: map[string]int{}}
		for target, byState := range active {
			if strings.EqualFold(target, t.Name) {
				for st, n := range byState {
					out[i].Runs[string(st)] += n
				}
			}
		}
		if t.Kind != workspace.KindSlurm || t.ProvisioningState != workspace.ProvisioningSucceeded {
			continue
		}
		wg.Add(1)
		go func(tj *targetJSON) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, clusterStatusTimeout)
			defer cancel()
			st, err := s.WS.ClusterStatus(cctx, tj.Name)
			if err != nil {
				tj.ClusterError = err.Error()
				return
			}
			c := &clusterJSON{Counts: map[string]int{}, Queued: st.Queued, Running: st.Running, Nodes: []nodeJSON{}}
			for _, n := range st.Nodes {
				c.Nodes = append(c.Nodes, nodeJSON{Name: n.Name, State: string(n.State), Slurm: n.Slurm})
			}
			for k, n := range st.Counts {
				c.Counts[string(k)] = n
			}
			tj.Cluster = c
		}(&out[i])
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, map[string]any{"targets": out})
}

// createTargetRequest is the body of POST /api/targets: its kind and name,
// and the fields of that kind.
type createTargetRequest struct {
	Kind string `json:"kind"` // local, ssh or cluster
	Name string `json:"name"`

	// local (and ssh)
	MaxConcurrentRuns int `json:"max_concurrent_runs"`

	// ssh
	Address         string `json:"address"`
	Port            int    `json:"port"`
	User            string `json:"user"`
	KeyFile         string `json:"key_file"`
	Password        string `json:"password"`   // kept in memory only
	Passphrase      string `json:"passphrase"` // of the key; kept in memory only
	PasswordEnv     string `json:"password_env"`
	PassphraseEnv   string `json:"passphrase_env"`
	KnownHosts      string `json:"known_hosts"`
	TrustOnFirstUse bool   `json:"trust_on_first_use"`
	RemoteRoot      string `json:"remote_root"`
	Jump            string `json:"jump"` // USER@HOST[:PORT]

	// cluster
	VMSize      string `json:"vm_size"`
	MinNodes    int    `json:"min_nodes"`
	MaxNodes    int    `json:"max_nodes"`
	VMPriority  string `json:"vm_priority"`
	IdleSeconds int    `json:"idle_seconds"`
	NodesOf     string `json:"nodes_of"`
	SlurmDir    string `json:"slurm_dir"`
}

func (s *Server) createTarget(w http.ResponseWriter, r *http.Request) {
	var req createTargetRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	var machine *sdk.MachineInfo
	var err error
	switch req.Kind {
	case "local":
		err = s.WS.CreateLocalCompute(ctx, req.Name, sdk.LocalCompute{MaxConcurrentRuns: req.MaxConcurrentRuns})
	case "ssh":
		machine, err = s.attachSSH(ctx, req)
	case "cluster", "slurm":
		err = s.WS.CreateCompute(ctx, req.Name, sdk.ManagedCluster{VMSize: req.VMSize, MinNodes: req.MinNodes,
			MaxNodes: req.MaxNodes, VMPriority: req.VMPriority, IdleSecondsBeforeScaledown: req.IdleSeconds,
			NodesOf: req.NodesOf, SlurmDir: req.SlurmDir})
	case "":
		err = errors.New(`the request names no kind: give "kind": "local", "ssh" or "cluster"`)
	default:
		err = fmt.Errorf(`kind %q is unknown: give "local", "ssh" or "cluster"`, req.Kind)
	}
	if err != nil {
		fail(w, err)
		return
	}
	t, err := s.WS.ComputeTarget(ctx, req.Name)
	if err != nil {
		fail(w, err)
		return
	}
	resp := map[string]any{"target": targetJSON{Name: t.Name, Kind: string(t.Kind), State: string(t.ProvisioningState),
		Created: millis(t.Created), Updated: millis(t.Updated), Config: t.Config, Runs: map[string]int{}}}
	if machine != nil {
		resp["machine"] = machine
	}
	writeJSON(w, http.StatusCreated, resp)
}

// attachSSH attaches the machine req describes. A password or passphrase
// in the request is given to the SDK for this process's life, and the
// stored configuration says to ask for it, so it is never written down.
func (s *Server) attachSSH(ctx context.Context, req createTargetRequest) (*sdk.MachineInfo, error) {
	c := sdk.SSHCompute{Address: req.Address, Port: req.Port, User: req.User, KeyFile: req.KeyFile,
		PasswordEnv: req.PasswordEnv, PassphraseEnv: req.PassphraseEnv, KnownHosts: req.KnownHosts,
		TrustOnFirstUse: req.TrustOnFirstUse, RemoteRoot: req.RemoteRoot, MaxConcurrentRuns: req.MaxConcurrentRuns}
	if req.Password != "" {
		if req.PasswordEnv != "" {
			return nil, errors.New("give a password or password_env, not both")
		}
		c.PromptPassword = true
		if err := s.WS.SetSecret(req.Name, "password", req.Password); err != nil {
			return nil, err
		}
	}
	if req.Passphrase != "" {
		if req.PassphraseEnv != "" {
			return nil, errors.New("give a passphrase or passphrase_env, not both")
		}
		c.PromptPassphrase = true
		if err := s.WS.SetSecret(req.Name, "passphrase", req.Passphrase); err != nil {
			return nil, err
		}
	}
	if req.Jump != "" {
		if err := c.SetJump(req.Jump); err != nil {
			return nil, err
		}
	}
	return s.WS.AttachSSHCompute(ctx, req.Name, c)
}

// updateTargetRequest is the body of PATCH /api/targets/{name}: the
// fields to change.
type updateTargetRequest struct {
	MinNodes          *int `json:"min_nodes"`
	MaxNodes          *int `json:"max_nodes"`
	IdleSeconds       *int `json:"idle_seconds"`
	MaxConcurrentRuns *int `json:"max_concurrent_runs"`
}

func (s *Server) updateTarget(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req updateTargetRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	t, err := s.WS.ComputeTarget(ctx, name)
	if err != nil {
		fail(w, err)
		return
	}
	switch t.Kind {
	case workspace.KindLocal:
		if req.MaxConcurrentRuns == nil || req.MinNodes != nil || req.MaxNodes != nil || req.IdleSeconds != nil {
			err = fmt.Errorf("compute %q is a local target: only max_concurrent_runs can change", t.Name)
			break
		}
		err = s.WS.UpdateLocalCompute(ctx, t.Name, sdk.LocalCompute{MaxConcurrentRuns: *req.MaxConcurrentRuns})
	case workspace.KindSlurm:
		var cfg slurm.Config
		if cfg, err = slurm.ParseConfig(t.Config); err != nil {
			break
		}
		if req.MaxConcurrentRuns != nil {
			err = fmt.Errorf("compute %q is a managed cluster: min_nodes, max_nodes and idle_seconds can change", t.Name)
			break
		}
		c := sdk.ManagedCluster{VMSize: cfg.VMSize.Name, MinNodes: cfg.MinNodes, MaxNodes: cfg.MaxNodes,
			VMPriority: cfg.VMPriority, IdleSecondsBeforeScaledown: cfg.IdleSecondsBeforeScaledown,
			NodesOf: cfg.NodesOf, SlurmDir: cfg.SlurmDir}
		if req.MinNodes != nil {
			c.MinNodes = *req.MinNodes
		}
		if req.MaxNodes != nil {
			c.MaxNodes = *req.MaxNodes
		}
		if req.IdleSeconds != nil {
			c.IdleSecondsBeforeScaledown = *req.IdleSeconds
		}
		err = s.WS.UpdateManagedCluster(ctx, t.Name, c)
	default:
		err = fmt.Errorf("compute %q is an %s target, whose settings cannot change: detach it and attach it again", t.Name, t.Kind)
	}
	if err != nil {
		fail(w, err)
		return
	}
	if t, err = s.WS.ComputeTarget(ctx, t.Name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"target": targetJSON{Name: t.Name, Kind: string(t.Kind),
		State: string(t.ProvisioningState), Created: millis(t.Created), Updated: millis(t.Updated), Config: t.Config, Runs: map[string]int{}}})
}

func (s *Server) deleteTarget(w http.ResponseWriter, r *http.Request) {
	if err := s.WS.DeleteCompute(r.Context(), r.PathValue("name")); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
}

func (s *Server) detachTarget(w http.ResponseWriter, r *http.Request) {
	if err := s.WS.DetachCompute(r.Context(), r.PathValue("name")); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"detached": r.PathValue("name")})
}

func (s *Server) sizes(w http.ResponseWriter, r *http.Request) {
	var out []slurm.Size
	for _, sz := range slurm.DefaultCatalogue() {
		out = append(out, sz)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CPUs != out[j].CPUs {
			return out[i].CPUs < out[j].CPUs
		}
		return out[i].Name < out[j].Name
	})
	writeJSON(w, http.StatusOK, map[string]any{"sizes": out})
}
