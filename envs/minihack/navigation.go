package minihack

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// NavigateActions are the moves plus open, kick and search: the corridor tasks' actions.
var NavigateActions = append(slices.Clone(MoveActions), 'o', 4, 's')

// mazewalk is MiniHack's MazeWalk: a w x h maze carved by NetHack's MAZEWALK from the map's
// middle inside a wall, the stairs down at random; premapped shows the whole maze.
func mazewalk(w, h int, premapped bool) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		if premapped {
			o.Flags = append(o.Flags, "premapped")
		}
		o.W, o.H = w+2, h+2
		g := NewLevelGenerator(o)
		g.FillTerrain("rect", '-', 0, 0, w+1, h+1)
		g.FillTerrain("fillrect", ' ', 1, 1, w, h)
		g.AddMazewalk((w+2)/2, (h+2)/2, "east")
		g.AddStairDown(Random)
		return g.Des()
	}
}

// corridor is a level of n lit rooms at random places joined by random corridors, the start
// (an up staircase) in the first room and the goal in the second: MiniHack's Corridor-R<n>.
func corridor(n int) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		des := "LEVEL: \"mylevel\"\n\n"
		for i := range n {
			des += "ROOM: \"ordinary\" , lit, random, random, random {\n"
			switch i {
			case 0:
				des += "  STAIR: random, up\n"
			case 1:
				des += "  STAIR: random, down\n"
			}
			des += "}\n"
		}
		return des + "\nRANDOM_CORRIDORS\n", nil
	}
}

// River maps: floor on the left, a river (W water, L lava) to cross, floor and the goal on the
// right.
const (
	riverMap = `
..................WWW....
..................WWW....
..................WWW....
..................WWW....
..................WWW....
..................WWW....
..................WWW....
`
	riverNarrowMap = `
..................WW.....
..................WW.....
..................WW.....
..................WW.....
..................WW.....
..................WW.....
..................WW.....
`
	riverLavaMap = `
..................LLL....
..................LLL....
..................WWW....
..................LLL....
..................WWW....
..................LLL....
..................LLL....
`
)

// river is MiniHack's River: the hero starts left of the river, boulders lie about to be pushed
// in to make a crossing, monsters may roam, and the goal is across.
func river(m string, monsters, boulders int) func(*rand.Rand) (string, error) {
	return func(*rand.Rand) (string, error) {
		o := DefaultLevelOptions()
		o.Map = m
		g := NewLevelGenerator(o)
		g.SetStartRect(0, 0, 18, 6)
		for range monsters {
			g.AddMonster("random", 0, Random)
		}
		g.SetAreaVariable("$boulder_area", "fillrect", 1, 1, 18, 5)
		for range boulders {
			g.AddObjectArea("$boulder_area", "boulder", '`', "")
		}
		g.AddGoal(At(24, 2))
		return g.Des()
	}
}

func init() {
	for _, m := range []struct {
		w, h, steps int
	}{{9, 9, 200}, {15, 15, 1000}, {45, 19, 1000}} {
		n := fmt.Sprintf("%dx%d", m.w, m.h)
		mustRegister(Navigation("MiniHack-MazeWalk-"+n+"-v0", m.steps, mazewalk(m.w, m.h, false)))
		mustRegister(Navigation("MiniHack-MazeWalk-Mapped-"+n+"-v0", m.steps, mazewalk(m.w, m.h, true)))
	}
	for _, n := range []int{2, 3, 5} {
		t := Navigation(fmt.Sprintf("MiniHack-Corridor-R%d-v0", n), 1000, corridor(n))
		t.Actions = slices.Clone(NavigateActions)
		mustRegister(t)
	}
	for _, r := range []struct {
		name     string
		m        string
		monsters int
	}{{"River", riverMap, 0}, {"River-Monster", riverMap, 5}, {"River-Lava", riverLavaMap, 0},
		{"River-MonsterLava", riverLavaMap, 5}, {"River-Narrow", riverNarrowMap, 0}} {
		mustRegister(Navigation("MiniHack-"+r.name+"-v0", 350, river(r.m, r.monsters, 5)))
	}
}
