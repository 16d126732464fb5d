package seccomp

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// policy is a LinuxSeccomp checked and reduced to what the filter needs,
// with runc's reading of the profile:
//   - a rule whose action is the default action is dropped;
//   - a rule without arguments for a syscall wins over every rule with
//     arguments for it, and the first such rule wins (libseccomp keeps the
//     first unconditional rule and drops the conditional ones);
//   - the conditions of one rule must all hold, except that when one
//     argument is compared more than once each condition becomes a rule of
//     its own (runc's fallback, github.com/opencontainers/runc/issues/2735);
//   - the rules with arguments for one syscall are tried in profile order,
//     the first that matches decides.
type policy struct {
	def uint32 // the default action's return value
	// passive: the default action lets syscalls run (ALLOW or LOG), so
	// there is nothing to fall back from and no ENOSYS is needed.
	passive     bool
	clone3Named bool // some rule names clone3, so it gets no ENOSYS
	rules       []rule
	// dropped are the names of the rules dropped for doing the default
	// action: they still count for the highest syscall the profile knows.
	dropped []string
}

type rule struct {
	names []string
	ret   uint32
	// alts are alternatives, each a list of conditions that must all hold;
	// nil for a rule without arguments.
	alts [][]cond
}

type cond struct {
	index         uint
	op            specs.LinuxSeccompOperator
	value, value2 uint64
}

// newPolicy checks s, naming the rule at fault in its errors.
func newPolicy(s *specs.LinuxSeccomp) (*policy, error) {
	if s.DefaultAction == "" {
		return nil, errors.New("defaultAction is missing")
	}
	def, err := actionRet(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	if s.ListenerPath != "" {
		return nil, fmt.Errorf("listenerPath: %w", errNotify)
	}
	p := &policy{def: def, passive: def == retAllow || def == unix.SECCOMP_RET_LOG}
	for i, sc := range s.Syscalls {
		r, err := newRule(sc)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] %s: %w", i, quoteNames(sc.Names), err)
		}
		for _, n := range sc.Names {
			p.clone3Named = p.clone3Named || n == "clone3"
		}
		if r.ret != def {
			p.rules = append(p.rules, r)
		} else {
			p.dropped = append(p.dropped, sc.Names...)
		}
	}
	return p, nil
}

func newRule(sc specs.LinuxSyscall) (rule, error) {
	if len(sc.Names) == 0 {
		return rule{}, errors.New("no syscall names")
	}
	for _, n := range sc.Names {
		if n == "" {
			return rule{}, errors.New("empty syscall name")
		}
	}
	ret, err := actionRet(sc.Action, sc.ErrnoRet)
	if err != nil {
		return rule{}, err
	}
	r := rule{names: sc.Names, ret: ret}
	if len(sc.Args) == 0 {
		return r, nil
	}
	var seen [6]int
	conds := make([]cond, 0, len(sc.Args))
	for j, a := range sc.Args {
		if a.Index > 5 {
			return rule{}, fmt.Errorf("args[%d]: index %d: a syscall has 6 arguments (0-5)", j, a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
			specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		case "":
			return rule{}, fmt.Errorf("args[%d]: no op", j)
		default:
			return rule{}, fmt.Errorf("args[%d]: unknown op %q", j, a.Op)
		}
		seen[a.Index]++
		conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, value2: a.ValueTwo})
	}
	for _, n := range seen {
		if n > 1 {
			for _, c := range conds {
				r.alts = append(r.alts, []cond{c})
			}
			return r, nil
		}
	}
	r.alts = [][]cond{conds}
	return r, nil
}

func quoteNames(names []string) string {
	const most = 3
	q := make([]string, 0, most+1)
	for i, n := range names {
		if i == most {
			q = append(q, fmt.Sprintf("and %d more", len(names)-most))
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	return "(" + strings.Join(q, ", ") + ")"
}
