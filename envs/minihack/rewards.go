package minihack

import (
	"bytes"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// A RewardManager is MiniHack's: events worth a reward when they happen (a message seen, a
// place reached, an action taken standing on something) and, with them, when the episode is
// won. After each step every event not yet achieved is checked; the episode succeeds once
// every required event is achieved or any sufficient one is (no events: at once), or, as in
// every MiniHack task, when the hero stands on the stairs down. The step's reward is the
// rewards of the events that happened on it plus the time penalty.

// Event is something that may happen on a step. Check says whether it happened on the step
// just taken; Reset clears its memory at an episode's start.
type Event interface {
	Check(s *StepView) bool
	Reset()
}

// StepView is what an Event sees of a step: the game after it and the action taken.
type StepView struct {
	// Env is the game; Env.Obs() is the observation after the step.
	Env *nethack.TaskEnv
	// Key is the key code of the action taken.
	Key uint8
}

// Message returns the message line after the step (NUL padding included).
func (s *StepView) Message() []byte { return s.Env.Obs().Message }

// ScreenContains says whether any map cell's description (NLE's screen_descriptions) holds
// name: MiniHack's screen_contains. A thing the hero stands on is not described, so "not on
// the screen" is how MiniHack tells the hero is on it.
func (s *StepView) ScreenContains(name string) bool {
	d := s.Env.Obs().ScreenDescriptions
	n := []byte(name)
	for c := 0; c+nethack.ScreenDescN <= len(d); c += nethack.ScreenDescN {
		cell := d[c : c+nethack.ScreenDescN]
		if i := bytes.IndexByte(cell, 0); i >= 0 {
			cell = cell[:i]
		}
		if bytes.Contains(cell, n) {
			return true
		}
	}
	return false
}

// EventOptions say what an event is worth and how it ends the episode.
type EventOptions struct {
	Reward float64
	// Repeatable events pay each time they happen (and so never count as achieved).
	Repeatable bool
	// Required events must all be achieved to win; one Sufficient event is enough.
	Required, Sufficient bool
}

// DefaultEvent is MiniHack's default: worth 1, once, required.
func DefaultEvent() EventOptions { return EventOptions{Reward: 1, Required: true} }

type entry struct {
	ev       Event
	o        EventOptions
	achieved bool
}

// RewardManager holds a task's events; it is the task's nethack.Rules.
type RewardManager struct {
	events []*entry
	custom []func(s *StepView) float64
	reward float64
}

// NewRewardManager returns a manager without events.
func NewRewardManager() *RewardManager { return &RewardManager{} }

// Add adds an event.
func (m *RewardManager) Add(ev Event, o EventOptions) *RewardManager {
	m.events = append(m.events, &entry{ev: ev, o: o})
	return m
}

// AddFunc adds a reward paid on every step: f's value (MiniHack's custom reward functions).
func (m *RewardManager) AddFunc(f func(s *StepView) float64) *RewardManager {
	m.custom = append(m.custom, f)
	return m
}

// Reset implements nethack.Rules.
func (m *RewardManager) Reset() {
	m.reward = 0
	for _, e := range m.events {
		e.achieved = false
		e.ev.Reset()
	}
}

// Success implements nethack.Rules: it checks the events, keeps their rewards for Reward, and
// says whether the episode is won (or the hero is on the stairs down).
func (m *RewardManager) Success(te *nethack.TaskEnv, action int) bool {
	s := &StepView{Env: te, Key: te.Actions()[action]}
	for _, e := range m.events {
		if e.achieved {
			continue
		}
		if e.ev.Check(s) {
			if !e.o.Repeatable {
				e.achieved = true
			}
			m.reward += e.o.Reward
		}
	}
	for _, f := range m.custom {
		m.reward += f(s)
	}
	return m.complete() || te.Obs().Internal[4] != 0
}

func (m *RewardManager) complete() bool {
	done := true
	for _, e := range m.events {
		if e.achieved && e.o.Sufficient {
			return true
		}
		if !e.achieved && e.o.Required {
			done = false
		}
	}
	return done
}

// Reward implements nethack.Rules: the rewards of the events since the last call.
func (m *RewardManager) Reward(*nethack.TaskEnv, nethack.StepStatus) float64 {
	r := m.reward
	m.reward = 0
	return r
}

// MessageEvent happens when the message line holds any of msgs.
type MessageEvent struct{ Messages []string }

func (e MessageEvent) Check(s *StepView) bool {
	msg := s.Message()
	for _, m := range e.Messages {
		if bytes.Contains(msg, []byte(m)) {
			return true
		}
	}
	return false
}

func (MessageEvent) Reset() {}

// EatEvent happens when the hero finishes eating name (MiniHack's add_eat_event messages).
func EatEvent(name string) MessageEvent {
	msgs := []string{"This " + name + " is delicious", "Blecch!  Rotten food!", "last bite of your meal"}
	switch name {
	case "apple":
		msgs = append(msgs, "Delicious!  Must be a Macintosh!", "Core dumped.")
	case "pear":
		msgs = append(msgs, "Core dumped.")
	}
	return MessageEvent{msgs}
}

// WieldEvent happens when the hero wields weapon name.
func WieldEvent(name string) MessageEvent {
	return MessageEvent{[]string{name + " welds itself to your hand!", name + " (weapon in hand)"}}
}

// WearEvent happens when the hero puts on armour name.
func WearEvent(name string) MessageEvent {
	return MessageEvent{[]string{"You are now wearing a " + name}}
}

// AmuletEvent happens when the hero puts on an amulet.
func AmuletEvent() MessageEvent { return MessageEvent{[]string{"amulet (being worn)."}} }

// KillEvent happens when the hero kills a monster named name.
func KillEvent(name string) MessageEvent { return MessageEvent{[]string{"You kill the " + name}} }

// LocationEvent happens when the hero stands on a thing described as Location (nothing so
// described is left on the screen).
type LocationEvent struct{ Location string }

func (e LocationEvent) Check(s *StepView) bool { return !s.ScreenContains(e.Location) }
func (LocationEvent) Reset()                   {}

// PositionalEvent happens when the hero, standing on Location, takes the action Key and then
// confirms it with y (MiniHack's add_positional_event: pray on an altar, quaff from a sink).
type PositionalEvent struct {
	Location string
	Key      uint8
	armed    *bool
}

// NewPositionalEvent returns the event of taking action key (an NLE key code, e.g. 240 for
// #pray, 'q' for quaff) on the thing described as location.
func NewPositionalEvent(location string, key uint8) PositionalEvent {
	return PositionalEvent{Location: location, Key: key, armed: new(bool)}
}

func (e PositionalEvent) Check(s *StepView) bool {
	switch {
	case s.Key == e.Key && !s.ScreenContains(e.Location):
		*e.armed = true
	case s.Key == 'y' && *e.armed:
		return true
	default:
		*e.armed = false
	}
	return false
}

func (e PositionalEvent) Reset() { *e.armed = false }

// CoordinateEvent happens when the hero stands at map column X, row Y.
type CoordinateEvent struct{ X, Y int64 }

func (e CoordinateEvent) Check(s *StepView) bool {
	b := s.Env.Obs().Blstats
	return b[nethack.BlX] == e.X && b[nethack.BlY] == e.Y
}

func (CoordinateEvent) Reset() {}
