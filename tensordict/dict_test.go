package tensordict

import (
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
)

func f32(shape ...int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i := range t.Len() {
		t.SetAt(i, float64(i))
	}
	return t
}

// sample builds a [4, 3] Dict with a tensor, a nested tensor, a nested Dict and strings.
func sample(t *testing.T) *Dict {
	t.Helper()
	d := New(4, 3)
	must(t, d.Set("obs", f32(4, 3, 5)))
	must(t, d.Set("next/obs", f32(4, 3, 5)))
	must(t, d.Set("next/reward", f32(4, 3)))
	must(t, d.Set("next/done", tensor.Zeros(tensor.Bool, 4, 3)))
	must(t, d.Set("action", tensor.Zeros(tensor.Int64, 4, 3)))
	s, err := NewStrings([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}, 4, 3)
	must(t, err)
	must(t, d.SetStrings("caption", s))
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestSetGetAndShapeErrors(t *testing.T) {
	d := sample(t)
	if got := d.LeafKeys(); !slices.Equal(got, []string{"obs", "next/obs", "next/reward", "next/done", "action", "caption"}) {
		t.Errorf("LeafKeys = %v", got)
	}
	if got := d.Keys(); !slices.Equal(got, []string{"obs", "next", "action", "caption"}) {
		t.Errorf("Keys = %v", got)
	}
	wantErr(t, d.Set("bad", f32(3, 4)), `"bad"`, "[3 4]", "[4 3]")
	wantErr(t, d.Set("bad", f32(4)), `"bad"`, "[4]", "[4 3]")
	wantErr(t, d.Set("obs/x", f32(4, 3)), `"obs"`, "leaf")
	wantErr(t, d.Set("a//b", f32(4, 3)), "malformed")
	_, err := d.Get("nope")
	wantErr(t, err, `"nope"`, "next/obs")
	_, err = d.Get("next")
	wantErr(t, err, "Dict", "not a tensor")
	_, err = GetAs[int64](d, "obs")
	wantErr(t, err, `"obs"`, "float32")
	r, err := GetAs[float32](d, "next/reward")
	must(t, err)
	r[0] = 42
	if g, _ := d.Get("next/reward"); g.At(0) != 42 {
		t.Error("Get does not return the stored tensor")
	}
	if !d.Has("next/done") || d.Has("next/missing") {
		t.Error("Has is wrong")
	}
	must(t, d.Delete("next/done"))
	if d.Has("next/done") {
		t.Error("Delete left the key")
	}
	wantErr(t, d.SetDict("sub", New(3)), `"sub"`)
	must(t, d.SetDict("sub", New(4, 3, 2)))
}

func TestIndexSliceViewsAndCopies(t *testing.T) {
	d := sample(t)
	row, err := d.Index(1)
	must(t, err)
	if !slices.Equal(row.BatchShape(), []int{3}) {
		t.Fatalf("Index batch = %v", row.BatchShape())
	}
	o, _ := row.Get("next/obs")
	if !slices.Equal(o.Shape(), []int{3, 5}) || o.At(0) != 15 {
		t.Errorf("row next/obs = %v", o)
	}
	o.SetAt(0, -1)
	if p, _ := d.Get("next/obs"); p.At(15) != -1 {
		t.Error("write through an Index view not seen in the parent")
	}
	s, _ := row.GetStrings("caption")
	if !slices.Equal(s.Values(), []string{"d", "e", "f"}) {
		t.Errorf("row captions = %v", s.Values())
	}
	sl, err := d.Slice(2, 4)
	must(t, err)
	if !slices.Equal(sl.BatchShape(), []int{2, 3}) {
		t.Errorf("Slice batch = %v", sl.BatchShape())
	}
	c := d.Clone()
	co, _ := c.Get("obs")
	co.SetAt(0, 1234)
	if p, _ := d.Get("obs"); p.At(0) == 1234 {
		t.Error("Clone shares tensors")
	}
	if !Equal(d.Clone(), d) {
		t.Error("Clone differs from the original")
	}
	l, err := d.IndexList([]int{3, 0})
	must(t, err)
	lo, _ := l.Get("obs")
	if lo.At(0) != 45 || !slices.Equal(l.BatchShape(), []int{2, 3}) {
		t.Errorf("IndexList obs = %v", lo)
	}
	lo.SetAt(0, 7)
	if p, _ := d.Get("obs"); p.At(45) == 7 {
		t.Error("IndexList shares tensors")
	}
	m, err := d.Mask([]bool{true, false, false, true})
	must(t, err)
	if !Equal(m, d.mustIndexList(t, []int{0, 3})) {
		t.Error("Mask differs from IndexList of the same rows")
	}
	_, err = d.Index(4)
	wantErr(t, err, "out of range")
	_, err = d.Mask([]bool{true})
	wantErr(t, err, "mask of length 1")
}

func (d *Dict) mustIndexList(t *testing.T, idx []int) *Dict {
	out, err := d.IndexList(idx)
	must(t, err)
	return out
}

func TestSetAtWritesInPlace(t *testing.T) {
	buf := New(8)
	must(t, buf.Set("obs", tensor.Zeros(tensor.Float32, 8, 2)))
	must(t, buf.Set("next/reward", tensor.Zeros(tensor.Float32, 8)))
	buf.Lock()
	before, _ := buf.Get("obs")
	step := New()
	must(t, step.Set("obs", tensor.Of([]float32{1, 2}, 2)))
	must(t, step.Set("next/reward", tensor.Scalar[float32](3)))
	must(t, buf.SetAt(5, step))
	after, _ := buf.Get("obs")
	if after != before || after.At(10) != 1 || after.At(11) != 2 {
		t.Errorf("SetAt moved or missed the buffer: %v", after)
	}
	if r, _ := buf.Get("next/reward"); r.At(5) != 3 {
		t.Errorf("nested SetAt: %v", r)
	}
	bad := New()
	must(t, bad.Set("other", tensor.Scalar[float32](1)))
	wantErr(t, buf.SetAt(0, bad), `"other"`)
	wantErr(t, buf.Set("new", tensor.Zeros(tensor.Float32, 8)), "locked")
	wantErr(t, buf.Delete("obs"), "locked")
	// Set on a locked key copies into the existing storage.
	must(t, buf.Set("obs", tensor.Zeros(tensor.Float32, 8, 2)))
	if g, _ := buf.Get("obs"); g != before || g.At(10) != 0 {
		t.Error("Set on a locked Dict replaced the tensor instead of copying into it")
	}
	wantErr(t, buf.Set("obs", tensor.Zeros(tensor.Float32, 8, 3)), `"obs"`)
	buf.Unlock()
	must(t, buf.Set("new", tensor.Zeros(tensor.Float32, 8)))
}

func TestStackCatUnbindSplit(t *testing.T) {
	d := sample(t)
	parts, err := d.Unbind()
	must(t, err)
	if len(parts) != 4 {
		t.Fatalf("Unbind gave %d parts", len(parts))
	}
	st, err := Stack(parts)
	must(t, err)
	if !Equal(st, d) {
		t.Errorf("Stack(Unbind(d)) != d: %v vs %v", st, d)
	}
	sp, err := d.Split(1, 3)
	must(t, err)
	ct, err := Cat(sp)
	must(t, err)
	if !Equal(ct, d) {
		t.Error("Cat(Split(d)) != d")
	}
	_, err = d.Split(2, 3)
	wantErr(t, err, "add up to 5")
	other := New(3)
	must(t, other.Set("x", f32(3)))
	_, err = Stack([]*Dict{parts[0], other})
	wantErr(t, err, "stack")
	_, err = Cat([]*Dict{d, New(2, 4)})
	wantErr(t, err, "batch shape")
}

func TestSelectExcludeRenameUpdateApply(t *testing.T) {
	d := sample(t)
	s, err := d.Select("obs", "next/reward")
	must(t, err)
	if !slices.Equal(s.LeafKeys(), []string{"obs", "next/reward"}) {
		t.Errorf("Select keys = %v", s.LeafKeys())
	}
	_, err = d.Select("nope")
	wantErr(t, err, "nope")
	e := d.Exclude("next/obs", "caption", "missing")
	if !slices.Equal(e.LeafKeys(), []string{"obs", "next/reward", "next/done", "action"}) {
		t.Errorf("Exclude keys = %v", e.LeafKeys())
	}
	if !d.Has("next/obs") {
		t.Error("Exclude changed the original")
	}
	r, err := d.Rename("next/reward", "reward")
	must(t, err)
	if !r.Has("reward") || r.Has("next/reward") || !d.Has("next/reward") {
		t.Errorf("Rename keys = %v", r.LeafKeys())
	}
	_, err = d.Rename("obs", "action")
	wantErr(t, err, "exists")
	u := New(4, 3)
	must(t, u.Set("next/extra", f32(4, 3)))
	must(t, d.Update(u))
	if !d.Has("next/extra") || !d.Has("next/obs") {
		t.Errorf("Update keys = %v", d.LeafKeys())
	}
	a, err := d.Apply(func(k string, x *tensor.Tensor) (*tensor.Tensor, error) { return x.To(tensor.Float64) })
	must(t, err)
	if g, _ := a.Get("next/obs"); g.DType() != tensor.Float64 {
		t.Errorf("Apply did not convert: %v", g)
	}
	_, err = d.Apply(func(k string, x *tensor.Tensor) (*tensor.Tensor, error) { return x.Reshape(-1) })
	wantErr(t, err, "batch shape")
}

func TestReshapeBatchAndStepMDP(t *testing.T) {
	d := sample(t)
	r, err := d.ReshapeBatch(12)
	must(t, err)
	o, _ := r.Get("obs")
	if !slices.Equal(o.Shape(), []int{12, 5}) {
		t.Errorf("reshaped obs = %v", o.Shape())
	}
	if sub, _ := r.GetDict("next"); !slices.Equal(sub.BatchShape(), []int{12}) {
		t.Errorf("reshaped next batch = %v", sub.BatchShape())
	}
	_, err = d.ReshapeBatch(5, -1)
	wantErr(t, err, "reshape")

	n, err := d.StepMDP(StepMDPOptions{})
	must(t, err)
	if !slices.Equal(n.LeafKeys(), []string{"obs", "done"}) {
		t.Errorf("StepMDP keys = %v", n.LeafKeys())
	}
	no, _ := n.Get("obs")
	do, _ := d.Get("next/obs")
	if no != do {
		t.Error("StepMDP copied next/obs instead of moving it")
	}
	n, err = d.StepMDP(StepMDPOptions{KeepReward: true, KeepAction: true, DropDone: true})
	must(t, err)
	if !slices.Equal(n.LeafKeys(), []string{"obs", "reward", "action"}) {
		t.Errorf("StepMDP keys with options = %v", n.LeafKeys())
	}
	_, err = New(2).StepMDP(StepMDPOptions{})
	wantErr(t, err, "next")

	// StepMDPInto reuses its target: the earlier keys (here reward and action) are gone, the
	// result is the same Dict and equals a fresh StepMDP.
	into, err := d.StepMDPInto(n, StepMDPOptions{})
	must(t, err)
	fresh, err := d.StepMDP(StepMDPOptions{})
	must(t, err)
	if into != n || !Equal(into, fresh) || !slices.Equal(into.LeafKeys(), []string{"obs", "done"}) {
		t.Errorf("StepMDPInto: same Dict %v, keys %v, want %v", into == n, into.LeafKeys(), fresh.LeafKeys())
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = d.StepMDPInto(n, StepMDPOptions{}) }); allocs != 0 {
		t.Errorf("StepMDPInto allocates %v times", allocs)
	}
}

func TestIndexDim(t *testing.T) {
	d := sample(t)
	col, err := d.IndexDim(1, 2)
	must(t, err)
	if !slices.Equal(col.BatchShape(), []int{4}) {
		t.Fatalf("IndexDim batch %v", col.BatchShape())
	}
	o, _ := col.Get("obs") // obs[b, 2, :] = (b*3+2)*5 + k
	for b := 0; b < 4; b++ {
		for k := 0; k < 5; k++ {
			if got, want := o.At(b*5+k), float64((b*3+2)*5+k); got != want {
				t.Fatalf("obs[%d, 2, %d] = %v, want %v", b, k, got, want)
			}
		}
	}
	s, _ := col.GetStrings("caption")
	if !slices.Equal(s.Values(), []string{"c", "f", "i", "l"}) {
		t.Errorf("captions[:, 2] = %v", s.Values())
	}
	_, err = d.IndexDim(2, 0)
	wantErr(t, err, "out of range")
}

func TestSetRowsAndGatherInto(t *testing.T) {
	d := sample(t)
	rows, err := d.IndexList([]int{3, 1})
	must(t, err)
	dst := NewLike(mustIndex(t, d, 0), 2)
	must(t, d.GatherInto(dst, []int{3, 1}))
	if !Equal(dst, rows) {
		t.Error("GatherInto differs from IndexList")
	}
	// Write the two rows back swapped and check them.
	must(t, d.SetRows([]int{1, 3}, rows))
	a, _ := d.Index(1)
	b, _ := rows.Index(0)
	if !Equal(a, b) {
		t.Error("SetRows did not write row 1")
	}
	if !Equal(mustIndex(t, d, 3), mustIndex(t, rows, 1)) {
		t.Error("SetRows did not write row 3")
	}
	if c, _ := d.GetStrings("caption"); !slices.Equal(c.Values()[3:6], []string{"j", "k", "l"}) || !slices.Equal(c.Values()[9:12], []string{"d", "e", "f"}) {
		t.Errorf("captions after swapping rows 1 and 3: %v", c.Values())
	}
	wantErr(t, d.GatherInto(New(3, 3), []int{0}), "not in the destination")
}

func mustIndex(t *testing.T, d *Dict, i int) *Dict {
	r, err := d.Index(i)
	must(t, err)
	return r
}
