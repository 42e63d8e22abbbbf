package minihack

import (
	"fmt"

	"github.com/maestro-rl/maestro/envs/nethack"
	"math/rand/v2"
	"slices"
	"strings"
)

// NetHackOptions are MiniHack's NetHack options before the task's autopickup and pet choices
// (MiniHack's MH_NETHACKOPTIONS).
var NetHackOptions = []string{"color", "showexp", "nobones", "nolegacy", "nocmdassist",
	"disclose:+i +a +v +g +c +o", "runmode:teleport", "mention_walls", "nosparkle", "showscore"}

// MoveActions are the eight compass moves (N, E, S, W, NE, SE, SW, NW as NLE's key codes), the
// action set of MiniHack's navigation tasks.
var MoveActions = []uint8{'k', 'l', 'j', 'h', 'u', 'n', 'b', 'y'}

// TaskSpec defines a task: its level and how its games are played. Register adds one.
type TaskSpec struct {
	// Name is how users ask for the task, e.g. "MiniHack-Room-5x5-v0".
	Name string
	// Level returns the task's des file; rng (seeded from Options.Seed) draws what MiniHack
	// draws when it builds the env.
	Level func(rng *rand.Rand) (string, error)
	// LevelFile, when set instead of Level, names one of MiniHack's own des files, read from a
	// MiniHack install (DataDir) and checked against minihack 1.0.2's copy.
	LevelFile string
	// MaxEpisodeSteps ends an episode as truncated.
	MaxEpisodeSteps int
	// Actions are NLE key codes (MoveActions for navigation).
	Actions []uint8
	// Character is NLE's role-race-alignment-gender ("rog-hum-cha-mal" for navigation).
	Character string
	// Autopickup and Pet are MiniHack's flags (on and off by default).
	Autopickup, Pet bool
	// AllowAllYNQuestions and AllowAllModes are NLE's (off for navigation, yes/no questions on
	// for skills).
	AllowAllYNQuestions, AllowAllModes bool
	// SpawnMonsters lets NetHack generate monsters over time (off in MiniHack).
	SpawnMonsters bool
	// Wizard plays in wizard mode.
	Wizard bool
	// Rewards, when set, makes each env's reward manager: the task's events decide its
	// rewards and success (nil: MiniHack's default, 1 on reaching the stairs down).
	Rewards func() *RewardManager
	// ObservationKeys are the task's default observations (nil: DefaultObservationKeys).
	ObservationKeys []string
	// BeforeStep plays the task's own game keys before each agent action (nethack.EnvOptions'
	// BeforeStep; KeyRoom's key-to-door logic); it may read the NLE keys in GameKeys, which
	// the game then observes whatever the env's ObservationKeys.
	BeforeStep func(e *nethack.TaskEnv, action int) (done bool, err error)
	GameKeys   []string
}

func (t TaskSpec) nethackOptions() []string {
	o := slices.Clone(NetHackOptions)
	if !t.Autopickup {
		o = append(o, "!autopickup")
	}
	if !t.Pet {
		o = append(o, "pettype:none")
	}
	return o
}

// Navigation returns a navigation task's spec as MiniHack's MiniHackNavigation sets it: the
// eight moves, a chaotic human rogue, autopickup on, no pet, 100 steps unless steps > 0.
func Navigation(name string, steps int, level func(*rand.Rand) (string, error)) TaskSpec {
	if steps == 0 {
		steps = 100
	}
	return TaskSpec{Name: name, Level: level, MaxEpisodeSteps: steps, Actions: slices.Clone(MoveActions),
		Character: "rog-hum-cha-mal", Autopickup: true}
}

// SkillActions are MiniHack's full action set: NLE's USEFUL_ACTIONS without the up staircase
// '<' (MiniHack's MH_FULL_ACTIONS), the actions of the skill tasks.
func SkillActions() []uint8 {
	var out []uint8
	for _, a := range nethack.UsefulActions() {
		if a != '<' {
			out = append(out, a)
		}
	}
	return out
}

// SkillObservationKeys are the skill tasks' default observations: MiniHack's defaults and the
// inventory's strings and letters.
var SkillObservationKeys = append(slices.Clone(DefaultObservationKeys), "inv_strs", "inv_letters")

// Skill returns a skill task's spec as MiniHack's MiniHackSkill sets it: the full action set,
// a neutral human caveman, autopickup off, yes/no questions left to the agent, 250 steps, the
// inventory observed, and the reward manager rewards makes.
func Skill(name string, level func(*rand.Rand) (string, error), rewards func() *RewardManager) TaskSpec {
	return TaskSpec{Name: name, Level: level, MaxEpisodeSteps: 250, Actions: SkillActions(), Character: "cav-hum-neu-mal",
		AllowAllYNQuestions: true, Rewards: rewards, ObservationKeys: slices.Clone(SkillObservationKeys)}
}

var registry = map[string]TaskSpec{}

// Register adds a task (replacing one of the same name). It refuses a spec without a name,
// level, actions or step limit.
func Register(t TaskSpec) error {
	if t.Level == nil && t.LevelFile != "" {
		if _, ok := dataFiles[t.LevelFile]; !ok {
			return fmt.Errorf("minihack: task %s: LevelFile %q is not one of the MiniHack data files Maestro knows", t.Name, t.LevelFile)
		}
		t.Level = dataLevel(t.LevelFile)
	}
	switch {
	case t.Name == "":
		return fmt.Errorf("minihack: a task needs a Name")
	case t.Level == nil:
		return fmt.Errorf("minihack: task %s has no Level (or LevelFile)", t.Name)
	case len(t.Actions) == 0:
		return fmt.Errorf("minihack: task %s has no Actions (MoveActions for navigation)", t.Name)
	case t.MaxEpisodeSteps <= 0:
		return fmt.Errorf("minihack: task %s: MaxEpisodeSteps %d; give a positive step limit", t.Name, t.MaxEpisodeSteps)
	}
	registry[t.Name] = t
	return nil
}

func mustRegister(t TaskSpec) {
	if err := Register(t); err != nil {
		panic(err)
	}
}

// TaskNames lists the registered tasks, sorted.
func TaskNames() []string { return sortedKeys(registry) }

// IsTask says whether name is a registered task (how commands tell MiniHack tasks from
// NetHack's).
func IsTask(name string) bool { _, ok := registry[name]; return ok }

// Spec returns the registered task.
func Spec(name string) (TaskSpec, error) {
	t, ok := registry[name]
	if !ok {
		return TaskSpec{}, fmt.Errorf("minihack: unknown task %q; known tasks: %s", name, strings.Join(TaskNames(), ", "))
	}
	return t, nil
}

// room is MiniHack's MiniHackRoom: a size x size floor, the goal at the far corner and the start
// at the near one, or both random; monsters and teleport traps at random places.
func room(size int, random, lit bool, monsters, traps int) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		o.W, o.H, o.Lit = size, size, lit
		g := NewLevelGenerator(o)
		if random {
			g.AddGoal(Random)
		} else {
			g.AddGoal(At(size-1, size-1))
			g.SetStart(0, 0)
		}
		for range monsters {
			g.AddMonster("random", 0, Random)
		}
		for range traps {
			g.AddTrap("teleport", Random)
		}
		return g.Des()
	}
}

func init() {
	for _, r := range []struct {
		size, monsters, traps int
	}{{5, 1, 1}, {15, 3, 15}} {
		n := fmt.Sprintf("%dx%d", r.size, r.size)
		steps := r.size * 20
		mustRegister(Navigation("MiniHack-Room-"+n+"-v0", steps, room(r.size, false, true, 0, 0)))
		mustRegister(Navigation("MiniHack-Room-Random-"+n+"-v0", steps, room(r.size, true, true, 0, 0)))
		mustRegister(Navigation("MiniHack-Room-Dark-"+n+"-v0", steps, room(r.size, true, false, 0, 0)))
		mustRegister(Navigation("MiniHack-Room-Monster-"+n+"-v0", steps, room(r.size, true, true, r.monsters, 0)))
		mustRegister(Navigation("MiniHack-Room-Trap-"+n+"-v0", steps, room(r.size, true, true, 0, r.traps)))
		mustRegister(Navigation("MiniHack-Room-Ultimate-"+n+"-v0", steps, room(r.size, true, false, r.monsters, r.traps)))
	}
}
