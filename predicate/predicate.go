// Package predicate compiles --where expressions (expr-lang syntax) over
// decoded records and evaluates them.
//
// An expression sees the record's top-level fields as variables:
// `diaSource.ra > 350 && diaSource.snr > 5`, `any(prv_diaSources, .snr > 5)`,
// `angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2.5/3600`
// (functions.go).
// It is compiled once. When the records' Avro schema is known before the
// first record, every field path in the expression is checked against it at
// compile time, so a typo (`diaSource.rra`) is an error at start-up rather
// than a stream of dead letters. Without a schema a missing field reads as
// nil, and comparing nil is an evaluation error: the record goes to the
// dead-letter topic with the reason, it is never silently dropped.
package predicate

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/hamba/avro/v2"
	"github.com/hourglass-stream/hourglass/codec"
)

// Predicate is a compiled --where expression. It is safe for concurrent use.
type Predicate struct {
	src     string
	program *vm.Program

	fields   []codec.Path // see Fields
	fieldsOK bool
}

// Compile compiles src. If schema is not nil, field paths are checked
// against it.
func Compile(src string, schema avro.Schema) (*Predicate, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("--where: empty expression")
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("--where %q: %s", src, firstLine(err.Error()))
	}
	if err := checkCalls(tree.Node); err != nil {
		return nil, fmt.Errorf("--where %q: %w", src, err)
	}
	if schema != nil {
		c := checker{scope: map[string]bool{}}
		if _, err := c.check(tree.Node, shapeOf(schema, 0), nil); err != nil {
			return nil, fmt.Errorf("--where %q: %w", src, err)
		}
	}
	program, err := expr.Compile(src, append(functionOptions(), expr.AsBool(), expr.AllowUndefinedVariables())...)
	if err != nil {
		return nil, fmt.Errorf("--where %q: %s", src, firstLine(err.Error()))
	}
	p := &Predicate{src: src, program: program}
	p.fields, p.fieldsOK = fieldsOf(tree.Node)
	return p, nil
}

// ErrUnknownFunction is wrapped when an expression calls a function that
// is not one of expr-lang's builtins: records carry data, not functions,
// so the call would fail on every record.
var ErrUnknownFunction = errors.New("unknown function")

// callChecker finds the first call of something that is not a builtin.
type callChecker struct{ err error }

func (c *callChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || c.err != nil {
		return
	}
	name := call.Callee.String()
	if id, ok := call.Callee.(*ast.IdentifierNode); ok {
		name = id.Value
		if f, ok := functions[name]; ok {
			if len(call.Arguments) != f.arity {
				c.err = fmt.Errorf("%s takes %d arguments, not %d", f.doc, f.arity, len(call.Arguments))
			}
			return
		}
	}
	c.err = fmt.Errorf("%w %s(): records have no functions, and it is neither one of expr-lang's %d builtins (%s, …) nor %s", ErrUnknownFunction, name, len(builtin.Names), strings.Join(builtinNames()[:8], ", "), functionList())
}

func checkCalls(node ast.Node) error {
	var c callChecker
	ast.Walk(&node, &c)
	return c.err
}

// String returns the expression as written.
func (p *Predicate) String() string { return p.src }

// ErrEval is wrapped by evaluation errors.
var ErrEval = errors.New("predicate")

// Match evaluates the predicate on a decoded record, which must be an
// object (map[string]any).
func (p *Predicate) Match(record any) (bool, error) {
	env, ok := record.(map[string]any)
	if !ok {
		return false, fmt.Errorf("%w: the record is not an object but %T", ErrEval, record)
	}
	out, err := expr.Run(p.program, env)
	if err != nil {
		return false, fmt.Errorf("%w %q: %s", ErrEval, p.src, firstLine(err.Error()))
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%w %q: result is %T, not a boolean", ErrEval, p.src, out)
	}
	return b, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// shape is what the schema says a value looks like, for field checks.
type shape struct {
	name   string            // a type name for messages
	fields map[string]*shape // a record's fields; nil for anything else
	elem   *shape            // an array's items
	open   bool              // a map, or a union of several kinds: anything goes
}

var anyShape = &shape{name: "any", open: true}

func shapeOf(s avro.Schema, depth int) *shape {
	if depth > 64 {
		return anyShape // recursive schemas: stop checking deeper
	}
	switch s.Type() {
	case avro.Ref:
		return shapeOf(s.(*avro.RefSchema).Schema(), depth)
	case avro.Record:
		r := s.(*avro.RecordSchema)
		sh := &shape{name: r.Name(), fields: map[string]*shape{}}
		for _, f := range r.Fields() {
			sh.fields[f.Name()] = shapeOf(f.Type(), depth+1)
		}
		return sh
	case avro.Array:
		return &shape{name: "array", elem: shapeOf(s.(*avro.ArraySchema).Items(), depth+1)}
	case avro.Map:
		return &shape{name: "map", open: true}
	case avro.Union:
		var branches []avro.Schema
		for _, t := range s.(*avro.UnionSchema).Types() {
			if t.Type() != avro.Null {
				branches = append(branches, t)
			}
		}
		if len(branches) == 1 {
			return shapeOf(branches[0], depth)
		}
		return anyShape
	default:
		return &shape{name: string(s.Type())}
	}
}

type checker struct {
	scope map[string]bool // names bound by let
}

// iterating builtins bind the pointer (`.snr`, `#`) to an element of their
// first argument.
var iterating = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true,
	"sum": true, "find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"groupBy": true, "sortBy": true, "reduce": true,
}

// check walks node and returns the shape of its value when it is a field
// path, anyShape otherwise. root is the record's shape, ptr the element
// shape inside an iterating builtin.
func (c checker) check(node ast.Node, root, ptr *shape) (*shape, error) {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		if c.scope[n.Value] {
			return anyShape, nil
		}
		f, ok := root.fields[n.Value]
		if !ok {
			return nil, unknownField(n.Value, "", root)
		}
		return f, nil
	case *ast.PointerNode:
		if n.Name != "" || ptr == nil {
			return anyShape, nil
		}
		return ptr, nil
	case *ast.MemberNode:
		parent, err := c.check(n.Node, root, ptr)
		if err != nil {
			return nil, err
		}
		switch prop := n.Property.(type) {
		case *ast.StringNode:
			if parent.open {
				return anyShape, nil
			}
			if parent.fields == nil {
				return nil, fmt.Errorf("%s is a %s: it has no field %q", pathOf(n.Node), parent.name, prop.Value)
			}
			f, ok := parent.fields[prop.Value]
			if !ok {
				return nil, unknownField(prop.Value, pathOf(n.Node), parent)
			}
			return f, nil
		case *ast.IntegerNode:
			if parent.elem != nil {
				return parent.elem, nil
			}
			return anyShape, nil
		default:
			if _, err := c.check(n.Property, root, ptr); err != nil {
				return nil, err
			}
			return anyShape, nil
		}
	case *ast.ChainNode:
		return c.check(n.Node, root, ptr)
	case *ast.UnaryNode:
		_, err := c.check(n.Node, root, ptr)
		return anyShape, err
	case *ast.BinaryNode:
		if _, err := c.check(n.Left, root, ptr); err != nil {
			return nil, err
		}
		_, err := c.check(n.Right, root, ptr)
		return anyShape, err
	case *ast.BuiltinNode:
		elem := ptr
		for i, arg := range n.Arguments {
			if i > 0 && iterating[n.Name] {
				if pn, ok := arg.(*ast.PredicateNode); ok {
					if _, err := c.check(pn.Node, root, elem); err != nil {
						return nil, err
					}
					continue
				}
			}
			sh, err := c.check(arg, root, ptr)
			if err != nil {
				return nil, err
			}
			if i == 0 && iterating[n.Name] {
				elem = anyShape
				if sh.elem != nil {
					elem = sh.elem
				}
			}
		}
		return anyShape, nil
	case *ast.PredicateNode:
		_, err := c.check(n.Node, root, ptr)
		return anyShape, err
	case *ast.CallNode:
		for _, arg := range n.Arguments {
			if _, err := c.check(arg, root, ptr); err != nil {
				return nil, err
			}
		}
		return anyShape, nil
	case *ast.ConditionalNode:
		for _, x := range []ast.Node{n.Cond, n.Exp1, n.Exp2} {
			if _, err := c.check(x, root, ptr); err != nil {
				return nil, err
			}
		}
		return anyShape, nil
	case *ast.SliceNode:
		sh, err := c.check(n.Node, root, ptr)
		if err != nil {
			return nil, err
		}
		return sh, nil
	case *ast.VariableDeclaratorNode:
		if _, err := c.check(n.Value, root, ptr); err != nil {
			return nil, err
		}
		inner := checker{scope: map[string]bool{n.Name: true}}
		for k := range c.scope {
			inner.scope[k] = true
		}
		return inner.check(n.Expr, root, ptr)
	case *ast.SequenceNode:
		for _, x := range n.Nodes {
			if _, err := c.check(x, root, ptr); err != nil {
				return nil, err
			}
		}
		return anyShape, nil
	case *ast.ArrayNode:
		for _, x := range n.Nodes {
			if _, err := c.check(x, root, ptr); err != nil {
				return nil, err
			}
		}
		return anyShape, nil
	}
	return anyShape, nil
}

func pathOf(n ast.Node) string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value
	case *ast.MemberNode:
		if s, ok := x.Property.(*ast.StringNode); ok {
			return pathOf(x.Node) + "." + s.Value
		}
		return pathOf(x.Node) + "[]"
	case *ast.PointerNode:
		return "the element"
	case *ast.ChainNode:
		return pathOf(x.Node)
	}
	return "the value"
}

func unknownField(name, parent string, in *shape) error {
	full := name
	if parent != "" {
		full = parent + "." + name
	}
	names := make([]string, 0, len(in.fields))
	for k := range in.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	where := "the record"
	if parent != "" {
		where = parent
	}
	return fmt.Errorf("unknown field %s in the schema (%s has: %s)", full, where, strings.Join(names, ", "))
}

// functionList names the functions of functions.go, for messages.
func functionList() string {
	names := make([]string, 0, len(functions))
	for name := range functions {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// builtinNames lists expr-lang's builtin functions, sorted, for messages.
func builtinNames() []string {
	names := slices.Clone(builtin.Names)
	sort.Strings(names)
	return names
}
