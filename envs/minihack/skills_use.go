package minihack

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// The Levitate and Freeze skill tasks of MiniHack: a lit room with one blessed item to use, the
// reward when the message of its effect shows. Full tasks have the skill tasks' whole action
// set; Restricted ones the eight moves and the few commands the item needs, in MiniHack's
// order; Fixed ones put the item in the top-left corner and the hero in the middle; Random
// ones draw one of the items when the level is made (des IF branches).

// NLE key codes of the commands of the restricted action sets.
// (keyPickup and keyApply are KeyRoom's.)
const (
	keyWear  = 'W'
	keyFire  = 'f'
	keyPutOn = 'P'
	keyRead  = 'r'
	keyZap   = 'z'
)

// LevitationMessages and FreezeMessages are the messages that end a Levitate and a Freeze task.
var (
	LevitationMessages = []string{"You float up", "You start to float in the air", "Up, up, and awaaaay!",
		"a ring of levitation (on left hand)", "a ring of levitation (on right hand)"}
	FreezeMessages = []string{"The bolt of cold bounces!"}
)

// useItem is one item of a Levitate or Freeze task and the commands that use it.
type useItem struct {
	variant, name string
	symbol        byte
	commands      []uint8
}

// usedLevel is a w x h lit room with the item (blessed) at random, or for fixed in the top-left
// corner with the hero in the middle.
func usedLevel(w, h int, it useItem, fixed bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		o.W, o.H = w, h
		g := NewLevelGenerator(o)
		p := Random
		if fixed {
			p = At(0, 0)
		}
		g.AddObject(it.name, it.symbol, p, "blessed")
		if fixed {
			g.SetStart(2, 2)
		}
		return g.Des()
	}
}

// eitherLevel is a w x h lit room (its lit region to (end, end), as MiniHack writes it) holding
// one of the blessed items, drawn when the level is made: the first with probability first
// percent, else evenly among the rest; message adds MiniHack's welcome line.
func eitherLevel(w, h, end int, items []useItem, first int, message bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		var b strings.Builder
		b.WriteString("MAZE: \"mylevel\", ' '\nFLAGS:hardfloor\n")
		if message {
			b.WriteString("MESSAGE: \"Welcome to MiniHack!\"\n")
		}
		b.WriteString("INIT_MAP: solidfill,' '\nGEOMETRY:center,center\nMAP\n")
		for range h {
			b.WriteString(strings.Repeat(".", w) + "\n")
		}
		fmt.Fprintf(&b, "ENDMAP\nREGION:(0,0,%d,%d),lit,\"ordinary\"\n", end, end)
		var branch func(its []useItem, pct int)
		branch = func(its []useItem, pct int) {
			if len(its) == 1 {
				fmt.Fprintf(&b, "OBJECT:('%c',\"%s\"),random,blessed\n", its[0].symbol, its[0].name)
				return
			}
			fmt.Fprintf(&b, "IF [%d%%] {\n", pct)
			branch(its[:1], 0)
			b.WriteString("} ELSE {\n")
			branch(its[1:], 100/(len(its)-1))
			b.WriteString("}\n")
		}
		branch(items, first)
		return b.String(), nil
	}
}

// restricted returns the moves followed by commands.
func restricted(commands ...uint8) []uint8 { return append(slices.Clone(MoveActions), commands...) }

func init() {
	levitate := []useItem{
		{"Boots", "levitation boots", '[', []uint8{keyPickup, keyWear, keyFire}},
		{"Ring", "levitation", '=', []uint8{keyPickup, keyPutOn, keyFire, keyRead}},
		{"Potion", "levitation", '!', []uint8{keyPickup, keyQuaff, keyFire}},
	}
	levitated := onEvent(func() Event { return MessageEvent{LevitationMessages} })
	for _, it := range levitate {
		base := "MiniHack-Levitate-" + it.variant
		mustRegister(Skill(base+"-Full-v0", usedLevel(5, 5, it, false), levitated))
		r := Skill(base+"-Restricted-v0", usedLevel(5, 5, it, false), levitated)
		r.Actions = restricted(it.commands...)
		mustRegister(r)
		mustRegister(Skill(base+"-Fixed-v0", usedLevel(5, 5, it, true), levitated))
	}
	// Random: a potion a third of the time, else a ring or boots evenly.
	lr := Skill("MiniHack-Levitate-Random-Full-v0", eitherLevel(5, 5, 5, []useItem{levitate[2], levitate[1], levitate[0]}, 33, false), levitated)
	lr.MaxEpisodeSteps = 400
	mustRegister(lr)

	freeze := []useItem{
		{"Wand", "cold", '/', []uint8{keyPickup, keyZap, keyFire}},
		{"Horn", "frost horn", '(', []uint8{keyPickup, keyApply, keyFire}},
	}
	froze := onEvent(func() Event { return MessageEvent{FreezeMessages} })
	for _, it := range freeze {
		base := "MiniHack-Freeze-" + it.variant
		mustRegister(Skill(base+"-Full-v0", usedLevel(8, 8, it, false), froze))
		r := Skill(base+"-Restricted-v0", usedLevel(8, 8, it, false), froze)
		r.Actions = restricted(it.commands...)
		mustRegister(r)
	}
	mustRegister(Skill("MiniHack-Freeze-Random-Full-v0", eitherLevel(8, 8, 7, freeze, 50, true), froze))
	fr := Skill("MiniHack-Freeze-Random-Restricted-v0", eitherLevel(8, 8, 7, freeze, 50, true), froze)
	fr.Actions = restricted(keyPickup, keyZap, keyApply, keyFire)
	mustRegister(fr)
}
