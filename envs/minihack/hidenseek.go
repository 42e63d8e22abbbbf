package minihack

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// hideNSeek is MiniHack's HideNSeek level: a w x h lit floor, a third of it turned to clouds
// ('C') and a quarter of the rest to trees ('T'), two random floor lines across it, a hostile monster of a random class (lich, naga, giant, ogre, dragon,
// troll) hidden at one corner and the stairs at another; premapped shows the map, lava adds
// lava to 5% of the floor. ext is how far the region and the terrain statements reach and
// corner the far corner of the places, as MiniHack's files have them (11 x 9 and 10 x 8 for
// the small map, 14 x 14 for the big one).
func hideNSeek(w, h, extX, extY, cornerX, cornerY int, premapped, lava bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		var b strings.Builder
		flags := "hardfloor"
		if premapped {
			flags += ",premapped"
		}
		fmt.Fprintf(&b, "MAZE: \"mylevel\", ' '\nFLAGS:%s\nMESSAGE: \"Welcome to MiniHack!\"\nINIT_MAP: solidfill,' '\nGEOMETRY:center,center\nMAP\n", flags)
		for range h {
			b.WriteString(strings.Repeat(".", w) + "\n")
		}
		b.WriteString("ENDMAP\n")
		fmt.Fprintf(&b, "$place = { (%d,%d),(0,%d),(%d,0) }\nSHUFFLE: $place\n", cornerX, cornerY, cornerY, cornerX)
		fmt.Fprintf(&b, "REGION:(0,0,%d,%d),lit,\"ordinary\"\n", extX, extY)
		fmt.Fprintf(&b, "REPLACE_TERRAIN:(0,0,%d,%d), '.', 'C', 33%%\n", extX, extY)
		fmt.Fprintf(&b, "REPLACE_TERRAIN:(0,0,%d,%d), '.', 'T', 25%%\n", extX, extY)
		if lava {
			fmt.Fprintf(&b, "REPLACE_TERRAIN:(0,0,%d,%d), '.', 'L', 5%%\n", extX, extY)
		}
		fmt.Fprintf(&b, "TERRAIN:randline (0,%d),(%d,0), 5, '.'\n", extY, extX)
		fmt.Fprintf(&b, "TERRAIN:randline (0,0),(%d,%d), 5, '.'\n", extX, extY)
		b.WriteString("$monster = monster: { 'L','N','H','O','D','T' }\nSHUFFLE: $monster\n")
		b.WriteString("MONSTER: $monster[0], $place[0], hostile\nBRANCH:(0,0,0,0),(1,1,1,1)\nSTAIR:$place[2],down\n")
		return b.String(), nil
	}
}

// corridorBattleMap is CorridorBattle's map: a 3x3 room, a corridor, a long room.
const corridorBattleMap = `
-----       ----------------------
|...|       |....................|
|....#######.....................|
|...|       |....................|
-----       ----------------------
`

// corridorBattle is MiniHack's CorridorBattle level: the hero starts in the small room, six
// giant rats wait in front of the goal at the far end of the long one.
func corridorBattle(lit bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		o.Map, o.Lit = corridorBattleMap, lit
		g := NewLevelGenerator(o)
		g.SetStartRect(1, 1, 3, 3)
		for _, x := range []int{30, 31} {
			for y := 1; y <= 3; y++ {
				g.AddMonster("giant rat", 0, At(x, y))
			}
		}
		g.AddGoal(At(32, 2))
		return g.Des()
	}
}

func init() {
	for _, v := range []struct {
		name                            string
		steps, w, h, extX, extY, cX, cY int
		premapped, lava                 bool
	}{
		{"HideNSeek", 200, 11, 9, 11, 9, 10, 8, false, false},
		{"HideNSeek-Mapped", 200, 11, 9, 11, 9, 10, 8, true, false},
		{"HideNSeek-Lava", 200, 11, 9, 11, 9, 10, 8, false, true},
		{"HideNSeek-Big", 400, 15, 15, 14, 14, 14, 14, false, false},
	} {
		mustRegister(Navigation("MiniHack-"+v.name+"-v0", v.steps, hideNSeek(v.w, v.h, v.extX, v.extY, v.cX, v.cY, v.premapped, v.lava)))
	}
	for _, v := range []struct {
		name string
		lit  bool
	}{{"CorridorBattle", true}, {"CorridorBattle-Dark", false}} {
		t := Navigation("MiniHack-"+v.name+"-v0", 350, corridorBattle(v.lit))
		t.Character = "kni-hum-law-fem"
		mustRegister(t)
	}
}
