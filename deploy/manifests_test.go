package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/zkd/zkd/internal/config"
)

// imageEnv is what the Dockerfile's ENV gives every container (checked
// against the Dockerfile below).
var imageEnv = []string{"ZOO_CONF_DIR=/conf", "ZOO_DATA_DIR=/data", "ZOO_4LW_COMMANDS_WHITELIST=srvr,ruok,stat,mntr,conf,isro"}

const imageBinary = "/usr/local/bin/zkd"

// layout is one directory of manifests, decoded.
type layout struct {
	dir          string
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	pvs          []*corev1.PersistentVolume
	pvcs         []*corev1.PersistentVolumeClaim
	pdbs         []*policyv1.PodDisruptionBudget
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// decodeStrict rejects unknown and duplicate fields (the write-up's
// Deployments declare volumes twice, and YAML keeps only the last).
func decodeStrict(t *testing.T, where string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func loadLayout(t *testing.T, dir string) *layout {
	t.Helper()
	l := &layout{dir: dir}
	var k kustomization
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decodeStrict(t, dir+"/kustomization.yaml", data, &k)
	if k.Namespace == "" {
		t.Errorf("%s: kustomization sets no namespace", dir)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not in %s/kustomization.yaml's resources", base, dir)
		}
	}
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			t.Fatalf("kustomization resource: %v", err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			where := fmt.Sprintf("%s/%s document %d", dir, res, i+1)
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				l.deployments, obj = append(l.deployments, d), d
			case "apps/v1 StatefulSet":
				s := &appsv1.StatefulSet{}
				l.statefulSets, obj = append(l.statefulSets, s), s
			case "v1 Service":
				s := &corev1.Service{}
				l.services, obj = append(l.services, s), s
			case "v1 PersistentVolume":
				p := &corev1.PersistentVolume{}
				l.pvs, obj = append(l.pvs, p), p
			case "v1 PersistentVolumeClaim":
				p := &corev1.PersistentVolumeClaim{}
				l.pvcs, obj = append(l.pvcs, p), p
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				l.pdbs, obj = append(l.pdbs, p), p
			default:
				t.Fatalf("%s: unexpected %s %s", where, tm.APIVersion, tm.Kind)
			}
			decodeStrict(t, where, []byte(doc), obj)
		}
	}
	return l
}

// pod is one pod the layout will run: its labels, spec and host name.
type pod struct {
	name     string
	labels   map[string]string
	spec     corev1.PodSpec
	claims   []string // volume names backed by volumeClaimTemplates
	hostname string
}

func (l *layout) pods(t *testing.T) []pod {
	var pods []pod
	for _, d := range l.deployments {
		checkSelector(t, "Deployment "+d.Name, d.Spec.Selector, d.Spec.Template.Labels)
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("Deployment %s: strategy %q, want Recreate (two pods must never share a volume)", d.Name, d.Spec.Strategy.Type)
		}
		pods = append(pods, pod{name: d.Name, labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, hostname: d.Name})
	}
	for _, s := range l.statefulSets {
		checkSelector(t, "StatefulSet "+s.Name, s.Spec.Selector, s.Spec.Template.Labels)
		if s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
			t.Errorf("StatefulSet %s: podManagementPolicy %q, want Parallel", s.Name, s.Spec.PodManagementPolicy)
		}
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		svc := l.service(s.Spec.ServiceName)
		if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("StatefulSet %s: serviceName %q must be a headless Service with publishNotReadyAddresses", s.Name, s.Spec.ServiceName)
		}
		for i := int32(0); i < *s.Spec.Replicas; i++ {
			name := fmt.Sprintf("%s-%d", s.Name, i)
			pods = append(pods, pod{name: name, labels: s.Spec.Template.Labels, spec: s.Spec.Template.Spec, claims: claims, hostname: name})
		}
	}
	return pods
}

func (l *layout) service(name string) *corev1.Service {
	for _, s := range l.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func checkSelector(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %v does not match its pod labels %v (%v)", what, sel, podLabels, err)
	}
}

func TestManifests(t *testing.T) {
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range imageEnv {
		if !bytes.Contains(dockerfile, []byte(kv)) {
			t.Fatalf("Dockerfile does not set %s; update imageEnv", kv)
		}
	}
	zkd := buildZkd(t)
	for _, dir := range []string{"kubernetes/per-server", "kubernetes/statefulset"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			l := loadLayout(t, dir)
			pods := l.pods(t)
			if len(pods) != 3 {
				t.Fatalf("%d servers, want 3", len(pods))
			}
			for _, s := range l.services {
				matched := false
				for _, p := range pods {
					matched = matched || (len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.labels)))
				}
				if !matched {
					t.Errorf("Service %s selects no pod (selector %v)", s.Name, s.Spec.Selector)
				}
				for _, port := range s.Spec.Ports {
					if port.NodePort != 0 && (port.NodePort < 30000 || port.NodePort > 32767) {
						t.Errorf("Service %s: nodePort %d outside 30000-32767", s.Name, port.NodePort)
					}
				}
			}
			for _, pdb := range l.pdbs {
				if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
					t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want 1", pdb.Name, pdb.Spec.MaxUnavailable)
				}
				checkSelector(t, "PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector, pods[0].labels)
			}
			for _, p := range pods {
				checkPod(t, l, p, zkd)
			}
		})
	}
}

func checkPod(t *testing.T, l *layout, p pod, zkd string) {
	t.Helper()
	volumes := map[string]bool{}
	for _, c := range p.claims {
		volumes[c] = true
	}
	for _, v := range p.spec.Volumes {
		volumes[v.Name] = true
		if v.PersistentVolumeClaim != nil {
			claim := v.PersistentVolumeClaim.ClaimName
			i := slices.IndexFunc(l.pvcs, func(c *corev1.PersistentVolumeClaim) bool { return c.Name == claim })
			if i < 0 {
				t.Errorf("%s: volume %s claims %s, which no manifest defines", p.name, v.Name, claim)
			} else if vn := l.pvcs[i].Spec.VolumeName; vn != "" && !slices.ContainsFunc(l.pvs, func(pv *corev1.PersistentVolume) bool { return pv.Name == vn }) {
				t.Errorf("claim %s binds volume %s, which no manifest defines", claim, vn)
			}
		}
	}
	if len(p.spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want zkd alone", p.name, len(p.spec.Containers))
	}
	c := p.spec.Containers[0]
	env := append([]string{"HOSTNAME=" + p.hostname}, imageEnv...)
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("%s: env %s from a reference; the test cannot compute its config", p.name, e.Name)
		}
		env = append(env, e.Name+"="+e.Value)
	}
	cfg, err := config.FromEnvironment(env)
	if err != nil {
		t.Fatalf("%s: the config zkd computes from its env: %v", p.name, err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("%s: config warnings %q", p.name, cfg.Warnings)
	}
	me := slices.IndexFunc(cfg.Servers, func(s config.Server) bool { return s.ID == cfg.MyID })
	if !cfg.IsQuorum() || me < 0 {
		t.Fatalf("%s: myid %d, servers %v: not a member of an ensemble", p.name, cfg.MyID, cfg.Servers)
	}
	// this pod's own server entry must be a name that reaches this pod
	if host := cfg.Servers[me].Host; host != p.hostname && !strings.HasPrefix(host, p.hostname+".") {
		t.Errorf("%s: is server %d, whose name in the list is %s", p.name, cfg.MyID, host)
	}
	ports := map[int32]string{}
	for _, port := range c.Ports {
		ports[port.ContainerPort] = port.Name
	}
	for _, want := range []int{cfg.ClientPort, cfg.Servers[me].QuorumPort, cfg.Servers[me].ElectionPort} {
		if ports[int32(want)] == "" {
			t.Errorf("%s: zkd listens on %d but the container declares no named port for it (ports %v)", p.name, want, ports)
		}
	}
	for _, s := range l.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.labels)) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort.String()
			if sp.TargetPort.IntValue() == 0 && target == "0" {
				target = fmt.Sprint(sp.Port)
			}
			if !slices.Contains(mapsValues(ports), target) && ports[sp.TargetPort.IntVal] == "" && ports[sp.Port] == "" {
				t.Errorf("Service %s port %s targets %s, which %s does not declare", s.Name, sp.Name, target, p.name)
			}
		}
	}
	dataMounted := false
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			t.Errorf("%s: mounts volume %s, which is not defined", p.name, m.Name)
		}
		dataMounted = dataMounted || m.MountPath == cfg.DataDir
	}
	if !dataMounted {
		t.Errorf("%s: nothing is mounted at the data directory %s", p.name, cfg.DataDir)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" }) || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: want GOMEMLIMIT and a memory limit", p.name)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Fatalf("%s: want readiness and liveness probes", p.name)
	}
	for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if probe.Exec != nil {
			checkCommand(t, p.name, zkd, probe.Exec.Command)
		}
	}
	if r := c.ReadinessProbe.Exec; r == nil || !slices.Contains(r.Command, "--ready") {
		t.Errorf("%s: readiness must be zkd status --ready", p.name)
	}
}

func mapsValues(m map[int32]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// checkCommand: a probe runs the image's binary with a subcommand and
// flags zkd has (cobra refuses unknown ones before it prints the help).
func checkCommand(t *testing.T, who, zkd string, argv []string) {
	t.Helper()
	if len(argv) == 0 || argv[0] != imageBinary {
		t.Errorf("%s: probe runs %q; the image has only %s", who, argv, imageBinary)
		return
	}
	args := append(append([]string{}, argv[1:]...), "--help")
	if out, err := exec.Command(zkd, args...).CombinedOutput(); err != nil {
		t.Errorf("%s: probe %q: zkd refuses it: %v\n%s", who, argv, err, out)
	}
}

func buildZkd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zkd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/zkd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
