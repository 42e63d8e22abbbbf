package nethack

import (
	"strconv"
	"strings"
)

// RenderANSI draws the terminal (tty_chars [24][80], tty_colors [24][80], tty_cursor [2]) as
// text with ANSI colour escapes, for a person watching in a terminal. colors follow NLE:
// libtmt's foreground 0-15 (8 set for bright), plus 16 when the cell is reversed. The cursor
// cell is underlined. cursor may be nil.
func RenderANSI(chars []uint8, colors []int8, cursor []uint8) string {
	var b strings.Builder
	b.Grow(TermRows * TermCols * 8)
	cr, cc := -1, -1
	if len(cursor) == 2 {
		cr, cc = int(cursor[0]), int(cursor[1])
	}
	last := -1
	for r := 0; r < TermRows; r++ {
		for c := 0; c < TermCols; c++ {
			i := r*TermCols + c
			col := int(colors[i])
			ch := chars[i]
			if ch < 32 || ch > 126 {
				ch = ' '
			}
			if ch == ' ' && col&16 == 0 && !(r == cr && c == cc) && last >= 0 && last&(16|1<<8) == 0 {
				b.WriteByte(ch) // a blank looks the same in any foreground colour
				continue
			}
			style := col
			if r == cr && c == cc {
				style |= 1 << 8
			}
			if style != last {
				b.WriteString("\x1b[0")
				if col&16 != 0 {
					b.WriteString(";7")
				}
				if col&8 != 0 {
					b.WriteString(";1")
				}
				if fg := col & 7; fg != 0 {
					b.WriteString(";3")
					b.WriteString(strconv.Itoa(fg))
				}
				if style&(1<<8) != 0 {
					b.WriteString(";4")
				}
				b.WriteByte('m')
				last = style
			}
			b.WriteByte(ch)
		}
		b.WriteString("\x1b[0m\n")
		last = -1
	}
	return b.String()
}

// RenderText returns the terminal as 24 plain lines with trailing blanks trimmed.
func RenderText(chars []uint8) string {
	var b strings.Builder
	for r := 0; r < TermRows; r++ {
		line := []byte(string(chars[r*TermCols : (r+1)*TermCols]))
		for i, ch := range line {
			if ch < 32 || ch > 126 {
				line[i] = ' '
			}
		}
		b.WriteString(strings.TrimRight(string(line), " "))
		b.WriteByte('\n')
	}
	return b.String()
}
