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
		writeEither(&b, items, first, "random")
		return b.String(), nil
	}
}

// writeEither writes one of the blessed items at place: the first with probability pct
// percent, else evenly among the rest (nested des IF branches).
func writeEither(b *strings.Builder, items []useItem, pct int, place string) {
	if len(items) == 1 {
		fmt.Fprintf(b, "OBJECT:('%c',\"%s\"),%s,blessed\n", items[0].symbol, items[0].name, place)
		return
	}
	fmt.Fprintf(b, "IF [%d%%] {\n", pct)
	writeEither(b, items[:1], 0, place)
	b.WriteString("} ELSE {\n")
	writeEither(b, items[1:], 100/(len(items)-1), place)
	b.WriteString("}\n")
}

// restricted returns the moves followed by commands.
func restricted(commands ...uint8) []uint8 { return append(slices.Clone(MoveActions), commands...) }

// registerFullAndRestricted registers t as base-Full-v0, with its own actions, and as
// base-Restricted-v0, with the moves and commands.
func registerFullAndRestricted(base string, t TaskSpec, commands ...uint8) {
	t.Name = base + "-Full-v0"
	mustRegister(t)
	t.Name, t.Actions = base+"-Restricted-v0", restricted(commands...)
	mustRegister(t)
}

func init() {
	levitate := []useItem{
		{"Boots", "levitation boots", '[', []uint8{keyPickup, keyWear, keyFire}},
		{"Ring", "levitation", '=', []uint8{keyPickup, keyPutOn, keyFire, keyRead}},
		{"Potion", "levitation", '!', []uint8{keyPickup, keyQuaff, keyFire}},
	}
	levitated := onEvent(func() Event { return MessageEvent{LevitationMessages} })
	for _, it := range levitate {
		base := "MiniHack-Levitate-" + it.variant
		registerFullAndRestricted(base, Skill(base, usedLevel(5, 5, it, false), levitated), it.commands...)
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
		registerFullAndRestricted(base, Skill(base, usedLevel(8, 8, it, false), froze), it.commands...)
	}
	registerFullAndRestricted("MiniHack-Freeze-Random", Skill("", eitherLevel(8, 8, 7, freeze, 50, true), froze),
		keyPickup, keyZap, keyApply, keyFire)
}

// The LavaCross tasks: a room split by a column of lava, the stairs down somewhere on the right
// bank; levitation (a potion, a ring, or one of them or boots) carries the hero across. Pickup
// puts the item anywhere on the left bank, Inv under the hero's start with autopickup on (so it
// starts in the inventory). LavaCross-Full and -Restricted are MiniHack's lava_crossing.des.
func lavaLevel(items []useItem, inv bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		var b strings.Builder
		b.WriteString("MAZE: \"mylevel\", ' '\nFLAGS:hardfloor\nINIT_MAP: solidfill,' '\nGEOMETRY:center,center\nMAP\n")
		b.WriteString("-------------\n" + strings.Repeat("|.....L.....|\n", 5) + "-------------\nENDMAP\n")
		b.WriteString("REGION:(0,0,12,6),lit,\"ordinary\"\n")
		if !inv {
			b.WriteString("$left_bank = selection:fillrect (1,1,5,5)\n")
		}
		b.WriteString("$right_bank = selection:fillrect (7,1,11,5)\n")
		place := "rndcoord($left_bank)"
		if inv {
			place = "(2,2)"
		}
		writeEither(&b, items, 100/len(items), place)
		if inv {
			b.WriteString("BRANCH:(2,2,2,2),(0,0,0,0)\n")
		} else {
			b.WriteString("BRANCH:(1,1,5,5),(0,0,0,0)\n")
		}
		b.WriteString("STAIR:rndcoord($right_bank),down\n")
		return b.String(), nil
	}
}

// The WoD (wand of death) tasks: a blessed wand of death near the start and a minotaur. Easy:
// a corridor with the hero on the wand (autopickup) and the minotaur asleep at the far end;
// killing it is the task. Medium: a longer corridor, the minotaur asleep before the stairs.
// Hard: a room to start in, the wand somewhere in it, an awake minotaur in the corridor before
// the stairs. MiniHack's WoD-Pro (a drawn spiral maze) is not registered.
func wodLevel(variant string) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		switch variant {
		case "Easy":
			o.Map = "\n|" + strings.Repeat("-", 10) + "\n|" + strings.Repeat(".", 9) + "+\n|" + strings.Repeat("-", 10) + "\n"
		case "Medium":
			o.Map = "\n|" + strings.Repeat("-", 27) + "|\n|" + strings.Repeat(".", 27) + "|\n|" + strings.Repeat("-", 27) + "|\n"
		case "Hard":
			o.Map = "\n|" + strings.Repeat("-", 27) + "|\n|" + strings.Repeat(".", 27) + "|\n|.....|" + strings.Repeat("-", 21) +
				"|\n|.....|\n|.....|\n|-----|\n"
		}
		g := NewLevelGenerator(o)
		switch variant {
		case "Easy":
			g.SetStart(1, 1)
			g.AddObject("death", '/', At(1, 1), "blessed")
			g.AddMonster("minotaur", 0, At(9, 1), "asleep")
		case "Medium":
			g.SetStart(1, 1)
			g.AddGoal(At(27, 1))
			g.AddObject("death", '/', At(2, 1), "blessed")
			g.AddMonster("minotaur", 0, At(26, 1), "asleep")
		case "Hard":
			g.SetStartRect(1, 1, 5, 5)
			g.AddGoal(At(27, 1))
			g.SetAreaVariable("$safe_room", "fillrect", 1, 1, 4, 4)
			g.AddObjectArea("$safe_room", "death", '/', "blessed")
			g.AddMonster("minotaur", 0, At(26, 1))
		}
		return g.Des()
	}
}

func init() {
	potion := useItem{"Potion", "levitation", '!', []uint8{keyPickup, keyQuaff, keyFire}}
	ring := useItem{"Ring", "levitation", '=', []uint8{keyPickup, keyPutOn, keyFire, keyRead}}
	boots := useItem{"Boots", "levitation boots", '[', nil}
	for _, it := range []useItem{potion, ring} {
		for _, inv := range []bool{false, true} {
			v := "Pickup"
			if inv {
				v = "Inv"
			}
			t := Skill("", lavaLevel([]useItem{it}, inv), nil)
			t.MaxEpisodeSteps, t.Autopickup = 400, inv
			registerFullAndRestricted("MiniHack-LavaCross-Levitate-"+it.variant+"-"+v, t, it.commands...)
		}
	}
	// A potion a third of the time, else a ring or boots evenly.
	lv := Skill("", lavaLevel([]useItem{potion, ring, boots}, false), nil)
	lv.MaxEpisodeSteps = 400
	registerFullAndRestricted("MiniHack-LavaCross-Levitate", lv, keyPickup, keyWear, keyQuaff, keyPutOn, keyFire, keyRead)
	lc := Skill("", nil, nil)
	lc.LevelFile = "lava_crossing.des"
	registerFullAndRestricted("MiniHack-LavaCross", lc, keyPickup, keyZap, keyWear, keyApply, keyQuaff, keyPutOn, keyFire, keyRead)

	killed := onEvent(func() Event { return KillEvent("minotaur") })
	for _, w := range []struct {
		variant string
		steps   int
	}{{"Easy", 50}, {"Medium", 150}, {"Hard", 400}} {
		var rewards func() *RewardManager // Medium and Hard: the stairs
		if w.variant == "Easy" {
			rewards = killed
		}
		t := Skill("", wodLevel(w.variant), rewards)
		t.MaxEpisodeSteps, t.Autopickup = w.steps, w.variant == "Easy"
		registerFullAndRestricted("MiniHack-WoD-"+w.variant, t, keyPickup, keyZap, keyFire)
	}
}
