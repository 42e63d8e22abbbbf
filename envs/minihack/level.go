package minihack

import (
	"fmt"
	"slices"
	"strings"
)

// MaxMapWidth and MaxMapHeight bound a level's map: NetHack's map is 79 columns by 21 rows,
// of which column 0 is never used and a MAZE level keeps a border.
const (
	MaxMapWidth  = 76
	MaxMapHeight = 21
)

// MazeFlags are the FLAGS a MAZE level may carry.
var MazeFlags = []string{"noteleport", "hardfloor", "nommap", "arboreal", "shortsighted", "mazelevel",
	"premapped", "shroud", "graveyard", "icedpools", "solidify", "corrmaze", "inaccessibles"}

// MapChars are the des-file map characters: solid rock, corridor, floor, walls, door, air,
// crosswall, cloud, secret door and corridor, fountain, throne, sink, moat, pool, lava, ice,
// water, tree, iron bars.
const MapChars = " #.-|+ABCSH{\\K}PLIWTF"

// TrapNames are the traps a des file can place.
var TrapNames = []string{"anti magic", "arrow", "bear", "board", "dart", "falling rock", "fire", "hole",
	"land mine", "level teleport", "magic portal", "magic", "pit", "polymorph", "rolling boulder",
	"rust", "sleep gas", "spiked pit", "statue", "teleport", "trap door", "web"}

// Place is where a generator puts a thing: Random, At(x, y), or raw des text such as
// "rndcoord($area)".
type Place struct {
	x, y int
	raw  string
	at   bool
}

// Random lets the level compiler choose a free spot.
var Random = Place{raw: "random"}

// At is the map coordinate (x, y), (0, 0) being the map's top left.
func At(x, y int) Place { return Place{x: x, y: y, at: true} }

// RawPlace is des text used as is (a selection such as "rndcoord($room)").
func RawPlace(s string) Place { return Place{raw: s} }

func (p Place) String() string {
	if p.at {
		return fmt.Sprintf("(%d, %d)", p.x, p.y)
	}
	if p.raw == "" {
		return "random"
	}
	return p.raw
}

// LevelGenerator writes a MAZE-type des file: a map block (a rectangle of one character, or
// a drawn map), its lighting, and things added in order (stairs, the start, monsters, objects,
// traps, terrain). Its output is, line for line, what MiniHack 1.0.2's Python LevelGenerator
// writes for the same calls (TestLevelGeneratorMatchesMiniHack), so a task built either way is
// the same level. Methods record the first mistake (a place off the map, an unknown trap);
// Des returns it.
type LevelGenerator struct {
	header string
	grid   [][]byte
	footer strings.Builder
	upSet  bool
	err    error
}

// LevelOptions shape a generator's map. The zero value is not valid: use DefaultLevelOptions.
type LevelOptions struct {
	// Map is a drawn map (lines of MapChars); "" means a W x H rectangle of Fill.
	Map     string
	W, H    int
	Fill    byte
	Lit     bool
	Flags   []string
	Solid   byte // what fills the level outside the map (' ' is solid rock)
	NoLight bool // leave out the REGION line that lights the map (Lit is then unused)
}

// DefaultLevelOptions are MiniHack's defaults: an 8 x 8 lit room of floor, hardfloor, solid
// rock around.
func DefaultLevelOptions() LevelOptions {
	return LevelOptions{W: 8, H: 8, Fill: '.', Lit: true, Flags: []string{"hardfloor"}, Solid: ' '}
}

// NewLevelGenerator starts a level. Errors (a map too large, an unknown flag) surface from Des.
func NewLevelGenerator(o LevelOptions) *LevelGenerator {
	g := &LevelGenerator{}
	for _, f := range o.Flags {
		if !slices.Contains(MazeFlags, f) {
			g.fail("unknown level flag %q; valid: %s", f, strings.Join(MazeFlags, ", "))
		}
	}
	g.header = fmt.Sprintf("\nMAZE: \"mylevel\", ' '\nFLAGS:%s\nINIT_MAP: solidfill,'%c'\nGEOMETRY:center,center\n", strings.Join(o.Flags, ","), o.Solid)
	if o.Map == "" {
		if o.W < 1 || o.H < 1 {
			g.fail("a %d x %d map; give W and H of at least 1 or a Map", o.W, o.H)
		}
		for range max(o.H, 0) {
			g.grid = append(g.grid, []byte(strings.Repeat(string(o.Fill), max(o.W, 0))))
		}
	} else {
		w := 0
		for _, l := range strings.Split(o.Map, "\n") {
			if l != "" {
				g.grid = append(g.grid, []byte(l))
				w = max(w, len(l))
			}
		}
		for i, l := range g.grid {
			g.grid[i] = append(l, []byte(strings.Repeat(" ", w-len(l)))...)
		}
	}
	h, w := g.size()
	if w > MaxMapWidth || h > MaxMapHeight {
		g.fail("the map is %d x %d; NetHack's levels hold at most %d x %d", w, h, MaxMapWidth, MaxMapHeight)
	}
	if !o.NoLight {
		lit := "unlit"
		if o.Lit {
			lit = "lit"
		}
		fmt.Fprintf(&g.footer, "REGION:(0,0,%d,%d),%s,\"ordinary\"\n", w, h, lit)
	}
	return g
}

func (g *LevelGenerator) size() (h, w int) {
	if len(g.grid) == 0 {
		return 0, 0
	}
	return len(g.grid), len(g.grid[0])
}

func (g *LevelGenerator) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("minihack: level: "+format, args...)
	}
}

func (g *LevelGenerator) checkPlace(what string, p Place) string {
	if p.at {
		h, w := g.size()
		if p.x < 0 || p.y < 0 || p.x >= w || p.y >= h {
			g.fail("%s at (%d, %d) is off the %d x %d map", what, p.x, p.y, w, h)
		}
	}
	return p.String()
}

// AddGoal puts the down staircase, the goal of navigation tasks, at p.
func (g *LevelGenerator) AddGoal(p Place) { g.AddStairDown(p) }

// AddStairDown puts a down staircase at p.
func (g *LevelGenerator) AddStairDown(p Place) {
	fmt.Fprintf(&g.footer, "STAIR:%s,down\n", g.checkPlace("the stair down", p))
}

// SetStart makes the hero start at (x, y) (an up-branch there). Only the first call counts.
func (g *LevelGenerator) SetStart(x, y int) {
	if g.upSet {
		return
	}
	g.checkPlace("the start", At(x, y))
	ox, oy := abs(x-1), abs(y-1) // any other spot
	fmt.Fprintf(&g.footer, "BRANCH:(%d,%d,%d,%d),(%d,%d,%d,%d)\n", x, y, x, y, ox, oy, ox, oy)
	g.upSet = true
}

// SetStartRect makes the hero start somewhere in the rectangle (x1, y1)-(x2, y2).
func (g *LevelGenerator) SetStartRect(x1, y1, x2, y2 int) {
	if g.upSet {
		return
	}
	g.checkPlace("the start", At(x1, y1))
	g.checkPlace("the start", At(x2, y2))
	fmt.Fprintf(&g.footer, "BRANCH:(%d,%d,%d,%d),(0,0,0,0)\n", x1, y1, x2, y2)
	g.upSet = true
}

// AddMonster puts a monster: name "" or "random" for any, symbol 0 for none (a class letter
// such as 'd' narrows a named monster), args among hostile, peaceful, asleep, awake.
func (g *LevelGenerator) AddMonster(name string, symbol byte, p Place, args ...string) {
	pl := g.checkPlace("a monster", p)
	if name == "" {
		name = "random"
	}
	if name != "random" {
		name = `"` + name + `"`
	}
	if symbol != 0 {
		name = fmt.Sprintf("('%c',%s)", symbol, name)
	}
	fmt.Fprintf(&g.footer, "MONSTER:%s,%s", name, pl)
	for _, a := range args {
		if !slices.Contains([]string{"hostile", "peaceful", "asleep", "awake"}, a) {
			g.fail("monster argument %q; valid: hostile, peaceful, asleep, awake", a)
		}
		g.footer.WriteString("," + a)
	}
	g.footer.WriteString("\n")
}

// AddObject puts an object: name "" or "random" for any, else its name with its class symbol
// (e.g. '%' and "apple"); curse among blessed, uncursed, cursed, random or "".
func (g *LevelGenerator) AddObject(name string, symbol byte, p Place, curse string) {
	pl := g.checkPlace("an object", p)
	if name == "" || name == "random" {
		fmt.Fprintf(&g.footer, "OBJECT:random,%s\n", pl)
		return
	}
	fmt.Fprintf(&g.footer, "OBJECT:('%c',\"%s\"),%s", symbol, name, pl)
	switch curse {
	case "", "random":
	case "blessed", "uncursed", "cursed":
		g.footer.WriteString("," + curse)
	default:
		g.fail("curse state %q; valid: blessed, uncursed, cursed, random", curse)
	}
	g.footer.WriteString("\n")
}

// AddTrap puts a trap of one of TrapNames.
func (g *LevelGenerator) AddTrap(name string, p Place) {
	if !slices.Contains(TrapNames, name) {
		g.fail("unknown trap %q; valid: %s", name, strings.Join(TrapNames, ", "))
	}
	fmt.Fprintf(&g.footer, "TRAP:\"%s\",%s\n", name, g.checkPlace("a trap", p))
}

// AddDoor puts a door: state nodoor, locked, closed, open or random.
func (g *LevelGenerator) AddDoor(state string, p Place) {
	if !slices.Contains([]string{"nodoor", "locked", "closed", "open", "random"}, state) {
		g.fail("door state %q; valid: nodoor, locked, closed, open, random", state)
	}
	fmt.Fprintf(&g.footer, "DOOR:%s,%s\n", state, g.checkPlace("a door", p))
}

// AddAltar puts an altar (align: noalign, law, neutral, chaos, coaligned, noncoaligned,
// random; kind: sanctum, shrine, altar, random).
func (g *LevelGenerator) AddAltar(p Place, align, kind string) {
	if !slices.Contains([]string{"noalign", "law", "neutral", "chaos", "coaligned", "noncoaligned", "random"}, align) {
		g.fail("altar alignment %q", align)
	}
	if !slices.Contains([]string{"sanctum", "shrine", "altar", "random"}, kind) {
		g.fail("altar type %q", kind)
	}
	fmt.Fprintf(&g.footer, "ALTAR:%s,%s,%s\n", g.checkPlace("an altar", p), align, kind)
}

// AddSink puts a sink.
func (g *LevelGenerator) AddSink(p Place) {
	fmt.Fprintf(&g.footer, "SINK:%s\n", g.checkPlace("a sink", p))
}

// AddFountain puts a fountain.
func (g *LevelGenerator) AddFountain(p Place) {
	fmt.Fprintf(&g.footer, "FOUNTAIN: %s\n", g.checkPlace("a fountain", p))
}

// AddGold puts amount gold pieces.
func (g *LevelGenerator) AddGold(amount int, p Place) {
	fmt.Fprintf(&g.footer, "GOLD: %d,%s\n", amount, g.checkPlace("gold", p))
}

// AddBoulder puts a boulder.
func (g *LevelGenerator) AddBoulder(p Place) {
	fmt.Fprintf(&g.footer, "OBJECT: \"boulder\", %s\n", g.checkPlace("a boulder", p))
}

// SetTerrain draws map character c at (x, y) of the map block.
func (g *LevelGenerator) SetTerrain(x, y int, c byte) {
	if !strings.ContainsRune(MapChars, rune(c)) {
		g.fail("map character %q; valid: %q", c, MapChars)
		return
	}
	if g.checkPlace("terrain", At(x, y)); g.err == nil {
		g.grid[y][x] = c
	}
}

// FillTerrain draws c over a rect (the edges), a fillrect or a line from (x1, y1) to (x2, y2),
// as a TERRAIN line.
func (g *LevelGenerator) FillTerrain(kind string, c byte, x1, y1, x2, y2 int) {
	if !slices.Contains([]string{"rect", "fillrect", "line"}, kind) {
		g.fail("terrain fill %q; valid: rect, fillrect, line", kind)
	}
	if !strings.ContainsRune(MapChars, rune(c)) {
		g.fail("map character %q; valid: %q", c, MapChars)
	}
	fmt.Fprintf(&g.footer, "TERRAIN:%s (%d,%d,%d,%d),'%c'\n", kind, x1, y1, x2, y2, c)
}

// SetAreaVariable names a selection of the map ($name = a rect, fillrect or line from (x1, y1)
// to (x2, y2)) for RawPlace("rndcoord($name)") and AddObjectArea.
func (g *LevelGenerator) SetAreaVariable(name, kind string, x1, y1, x2, y2 int) {
	if !slices.Contains([]string{"rect", "fillrect", "line"}, kind) {
		g.fail("area %q; valid: rect, fillrect, line", kind)
	}
	if !strings.HasPrefix(name, "$") {
		name = "$" + name
	}
	fmt.Fprintf(&g.footer, "%s = selection:%s (%d,%d,%d,%d)\n", name, kind, x1, y1, x2, y2)
}

// AddObjectArea puts an object at a random spot of the area variable (SetAreaVariable).
func (g *LevelGenerator) AddObjectArea(area, name string, symbol byte, curse string) {
	g.AddObject(name, symbol, RawPlace("rndcoord("+area+")"), curse)
}

// Wallify turns the rock next to floor into walls.
func (g *LevelGenerator) Wallify() { g.footer.WriteString("WALLIFY\n") }

// AddMazewalk carves a random maze from (x, y) toward dir (north, south, east, west).
func (g *LevelGenerator) AddMazewalk(x, y int, dir string) {
	if !slices.Contains([]string{"north", "south", "east", "west"}, dir) {
		g.fail("mazewalk direction %q; valid: north, south, east, west", dir)
	}
	fmt.Fprintf(&g.footer, "MAZEWALK:(%d,%d),%s\n", x, y, dir)
}

// AddLine appends des text as is.
func (g *LevelGenerator) AddLine(s string) { g.footer.WriteString(s + "\n") }

// Des returns the des file, or the first mistake made building it.
func (g *LevelGenerator) Des() (string, error) {
	if g.err != nil {
		return "", g.err
	}
	var b strings.Builder
	b.WriteString(g.header)
	b.WriteString("MAP\n")
	for _, l := range g.grid {
		b.Write(l)
		b.WriteByte('\n')
	}
	b.WriteString("ENDMAP\n")
	b.WriteString(g.footer.String())
	return b.String(), nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
