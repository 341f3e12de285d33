package predicate

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/hourglass-stream/hourglass/codec"
)

// Fields are the record's field paths that the expression reads, for a
// codec.Extractor to build only those: `diaSource.ra > 350` reads
// diaSource.ra, `any(prv_diaSources, .snr > 5)` the whole of
// prv_diaSources. No path is a prefix of another. ok is false when the
// expression may read any part of the record ($env): then it needs the
// whole record.
func (p *Predicate) Fields() (paths []codec.Path, ok bool) {
	return p.fields, p.fieldsOK
}

// MatchValues is Match on a record of which only Fields were read:
// values[i] is the value at Fields()[i]. The expression sees exactly what
// it reads of the whole record, so the answer is Match's.
func (p *Predicate) MatchValues(values []any) (bool, error) {
	env := make(map[string]any, len(p.fields))
	for i, path := range p.fields {
		steps := path.Steps()
		m := env
		for _, st := range steps[:len(steps)-1] {
			next, _ := m[st].(map[string]any)
			if next == nil {
				next = map[string]any{}
				m[st] = next
			}
			m = next
		}
		m[steps[len(steps)-1]] = values[i]
	}
	return p.Match(env)
}

// fieldsOf finds the field paths that the expression node reads: member
// chains of names from a variable (`diaSource.ra`, `a["b"]`) down to
// where they stop being static, and variables used alone. Names bound by
// let are taken as fields too: a record without them is decoded in full,
// which gives the same answer.
func fieldsOf(node ast.Node) (paths []codec.Path, ok bool) {
	c := fieldCollector{inner: map[ast.Node]bool{}}
	ast.Walk(&node, &c)
	if c.env {
		return nil, false
	}
	var steps [][]string
	for _, n := range c.chains {
		if !c.inner[n] {
			steps = append(steps, chain(n))
		}
	}
	slices.SortFunc(steps, func(a, b []string) int { return slices.Compare(a, b) })
	// Drop duplicates and paths under another: sorted, a prefix comes
	// right before the paths it covers.
	var last []string
	for _, s := range steps {
		if last != nil && len(last) <= len(s) && slices.Equal(last, s[:len(last)]) {
			continue
		}
		paths, last = append(paths, codec.PathOf(s...)), s
	}
	return paths, true
}

// fieldCollector gathers the nodes that start at a variable and go down
// static members; inner marks those that are part of a longer one, and
// callees (functions are not fields).
type fieldCollector struct {
	chains []ast.Node
	inner  map[ast.Node]bool
	env    bool
}

func (c *fieldCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			c.env = true
		}
		c.chains = append(c.chains, n)
	case *ast.MemberNode:
		if chain(n) != nil {
			c.chains = append(c.chains, n)
			c.inner[n.Node] = true
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			c.inner[id] = true
		}
	}
}

// chain is the steps of a variable followed by static members, nil if
// node is not one.
func chain(node ast.Node) []string {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		return []string{n.Value}
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return nil
		}
		if parent := chain(n.Node); parent != nil {
			return append(parent, prop.Value)
		}
	case *ast.ChainNode:
		return chain(n.Node)
	}
	return nil
}
