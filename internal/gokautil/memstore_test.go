package gokautil

import (
	"strings"
	"testing"
)

func TestMemStore(t *testing.T) {
	b := MemStorage()
	st, err := b("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := st.GetOffset(-2); off != -2 {
		t.Fatalf("offset before any: %d", off)
	}
	for _, k := range []string{"b", "a", "d", "c", "ab"} {
		if err := st.Set(k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Set("x", nil); err == nil {
		t.Fatal("nil value accepted")
	}
	_ = st.Delete("d")
	_ = st.SetOffset(41)
	if off, _ := st.GetOffset(-2); off != 41 {
		t.Fatalf("offset %d", off)
	}
	keys := func(it interface {
		Next() bool
		Key() []byte
	}) string {
		var ks []string
		for it.Next() {
			ks = append(ks, string(it.Key()))
		}
		return strings.Join(ks, ",")
	}
	it, _ := st.Iterator()
	_ = st.Set("e", []byte("ve")) // after the snapshot: not seen
	if got := keys(it); got != "a,ab,b,c" {
		t.Fatalf("iterator: %s", got)
	}
	it, _ = st.Iterator()
	if !it.Seek([]byte("aa")) || keys(it) != "ab,b,c,e" {
		t.Fatal("seek")
	}
	if it, _ := st.IteratorWithRange([]byte("a"), nil); keys(it) != "a,ab" {
		t.Fatal("prefix range")
	}
	if it, _ := st.IteratorWithRange([]byte("ab"), []byte("c")); keys(it) != "ab,b,c" {
		t.Fatal("range")
	}
	if v, _ := st.Get("ab"); string(v) != "vab" {
		t.Fatalf("get %q", v)
	}
	if ok, _ := st.Has("d"); ok {
		t.Fatal("deleted key still there")
	}
}
