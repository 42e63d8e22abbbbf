package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// checkTrainArgs parses a train command line of an example with train's own flags: a flag
// that does not exist, a bad value or a stray argument fails.
func checkTrainArgs(t *testing.T, where string, args []string) {
	t.Helper()
	var c config
	var fs *flag.FlagSet
	switch {
	case len(args) > 0 && args[0] == "actor":
		fs, _, _ = actorFlags(&c)
		args = args[1:]
	case len(args) > 0 && args[0] == "broker":
		fs, _, _, _, _ = brokerFlags()
		args = args[1:]
	default:
		fs = flag.NewFlagSet("train", flag.ContinueOnError)
		trainFlags(fs, &c)
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Errorf("%s: %v in %q", where, err, args)
		return
	}
	if fs.NArg() > 0 {
		t.Errorf("%s: stray arguments %q", where, fs.Args())
	}
	if fs.Name() == "train" {
		if _, err := parseEnv(&c); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if err := checkNumbers(c); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}

// TestDeployExamples checks deploy/: every Kubernetes object is of a known kind with a name,
// selectors match their pods' labels, every mount and secret reference resolves, and every
// train command line in the manifests and the Slurm script parses with train's own flags.
// (No kubectl here: this is the part of its client-side validation that catches our mistakes.)
func TestDeployExamples(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/maestro.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{"v1/Secret": true, "v1/Service": true, "v1/PersistentVolumeClaim": true,
		"apps/v1/StatefulSet": true, "apps/v1/Deployment": true, "batch/v1/Job": true}
	type container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string `yaml:"name"`
			ValueFrom *struct {
				SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
				FieldRef     *struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	type object struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			}
			Template struct {
				Metadata struct{ Labels map[string]string }
				Spec     struct {
					Containers []container
					Volumes    []struct {
						Name   string
						Secret *struct {
							SecretName string `yaml:"secretName"`
						}
					}
				}
			}
			VolumeClaimTemplates []struct{ Metadata struct{ Name string } } `yaml:"volumeClaimTemplates"`
		}
	}
	var objs []object
	secrets := map[string]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("maestro.yaml: %v", err)
		}
		if !kinds[o.APIVersion+"/"+o.Kind] || o.Metadata.Name == "" {
			t.Errorf("maestro.yaml: %s %s named %q: not a kind this example uses, or no name", o.APIVersion, o.Kind, o.Metadata.Name)
		}
		if o.Kind == "Secret" {
			secrets[o.Metadata.Name] = true
		}
		objs = append(objs, o)
	}
	trainLines := 0
	for _, o := range objs {
		where := o.Kind + " " + o.Metadata.Name
		if o.Kind == "Deployment" || o.Kind == "StatefulSet" {
			if len(o.Spec.Selector.MatchLabels) == 0 {
				t.Errorf("%s: no selector", where)
			}
			for k, v := range o.Spec.Selector.MatchLabels {
				if o.Spec.Template.Metadata.Labels[k] != v {
					t.Errorf("%s: the selector %s=%s does not match the pod labels %v", where, k, v, o.Spec.Template.Metadata.Labels)
				}
			}
		}
		vols := map[string]bool{}
		for _, v := range o.Spec.Template.Spec.Volumes {
			vols[v.Name] = true
			if v.Secret != nil && !secrets[v.Secret.SecretName] {
				t.Errorf("%s: volume %s mounts secret %s, which the file does not define", where, v.Name, v.Secret.SecretName)
			}
		}
		for _, v := range o.Spec.VolumeClaimTemplates {
			vols[v.Metadata.Name] = true
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			envs := map[string]bool{}
			for _, e := range c.Env {
				envs[e.Name] = true
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !secrets[e.ValueFrom.SecretKeyRef.Name] {
					t.Errorf("%s: env %s reads secret %s, which the file does not define", where, e.Name, e.ValueFrom.SecretKeyRef.Name)
				}
			}
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] {
					t.Errorf("%s: container %s mounts volume %s, which the pod does not have", where, c.Name, m.Name)
				}
			}
			args := slices.Clone(c.Args)
			for i, a := range args { // Kubernetes expands $(VAR) from the container's env
				for _, m := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(a, -1) {
					if !envs[m[1]] {
						t.Errorf("%s: %s uses $(%s), which the container's env does not set", where, c.Name, m[1])
					}
					args[i] = strings.ReplaceAll(args[i], m[0], "pod-7f9c")
				}
			}
			if len(c.Command) == 1 && c.Command[0] == "train" {
				trainLines++
				checkTrainArgs(t, where, args)
			}
		}
	}
	// Slurm: the ./bin/train command lines, with the script's variables filled in.
	s, err := os.ReadFile("../../deploy/slurm/maestro.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(string(s), "\\\n", " ")
	vars := strings.NewReplacer(`"$URL"`, "nats://node1:4222", `"$DIR/token"`, "/runs/nh/token", `"$DIR/broker"`, "/runs/nh/broker",
		`"$DIR/learner"`, "/runs/nh/learner", `"$RUN"`, "nh", `"$0"`, "nats://node1:4222", `"$1"`, "/runs/nh/token", `"$2"`, "nh",
		`"$(hostname -s)-$SLURM_PROCID"`, "node2-3")
	for _, line := range strings.Split(script, "\n") {
		_, cmd, ok := strings.Cut(line, "./bin/train")
		if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		cmd, _, _ = strings.Cut(cmd, "'") // the end of a bash -c '...'
		cmd = strings.TrimSuffix(strings.TrimSpace(vars.Replace(cmd)), "&")
		trainLines++
		checkTrainArgs(t, "maestro.sbatch", strings.Fields(cmd))
	}
	if trainLines != 5 {
		t.Errorf("found %d train command lines in deploy/, want 5 (learner and actors in Kubernetes; broker, learner and actors in Slurm)", trainLines)
	}
}
