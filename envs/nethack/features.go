package nethack

// CropTTY copies the size x size window of the terminal centred on the hero into dstChars and
// dstColors (row-major [size][size]); cells outside the terminal read as blank (' ', colour
// 0). chars and colors are tty_chars and tty_colors [24][80]; blstats gives the hero's map
// position (x = column, y = map row, drawn on terminal row y+1 under the message line). With an
// even size the hero sits at (size/2, size/2). Motif's agent crops 12 x 12 this way.
func CropTTY(dstChars []uint8, dstColors []int8, chars []uint8, colors []int8, blstats []int64, size int) {
	if len(dstChars) < size*size || len(dstColors) < size*size {
		panic("nethack: CropTTY destination shorter than size*size")
	}
	hr, hc := int(blstats[BlY])+1, int(blstats[BlX])
	r0, c0 := hr-size/2, hc-size/2
	for i := 0; i < size; i++ {
		r := r0 + i
		for j := 0; j < size; j++ {
			c := c0 + j
			k := i*size + j
			if r < 0 || r >= TermRows || c < 0 || c >= TermCols {
				dstChars[k], dstColors[k] = ' ', 0
				continue
			}
			dstChars[k], dstColors[k] = chars[r*TermCols+c], colors[r*TermCols+c]
		}
	}
}

// blstatScale maps each bottom-line statistic to roughly [0, 1] for typical early-game values
// (Maestro's own scales): positions by the map size, attributes by 25, score, gold and
// experience points by 1000, turns by 10,000, and so on.
var blstatScale = [NumBlstats]float32{
	BlX: 1.0 / Cols, BlY: 1.0 / Rows, BlStr25: 1.0 / 25, BlStr125: 1.0 / 125,
	BlDex: 1.0 / 25, BlCon: 1.0 / 25, BlInt: 1.0 / 25, BlWis: 1.0 / 25, BlCha: 1.0 / 25,
	BlScore: 1.0 / 1000, BlHP: 1.0 / 20, BlHPMax: 1.0 / 20, BlDepth: 1.0 / 10, BlGold: 1.0 / 1000,
	BlEne: 1.0 / 20, BlEneMax: 1.0 / 20, BlAC: 1.0 / 10, BlHD: 1.0 / 10, BlXP: 1.0 / 10,
	BlExp: 1.0 / 1000, BlTime: 1.0 / 10000, BlHunger: 1.0 / 5, BlCap: 1.0 / 5, BlDNum: 1.0 / 5,
	BlDLevel: 1.0 / 10, BlCondition: 0, BlAlign: 1,
}

// NormalizeBlstats writes blstats [27] scaled (see blstatScale) and clipped to [-5, 5] into dst
// [27], the way Motif's agent feeds them to its MLP. The condition bit mask is not a magnitude
// and reads as 0; use its bits directly when an agent needs them.
func NormalizeBlstats(dst []float32, blstats []int64) {
	for i := 0; i < NumBlstats; i++ {
		v := float32(blstats[i]) * blstatScale[i]
		dst[i] = min(max(v, -5), 5)
	}
}
