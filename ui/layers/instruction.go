package layers

import (
	"strings"
)

// Instruction turns a history entry's created_by into the Dockerfile
// instruction it came from, as people write it:
//
//	/bin/sh -c #(nop)  CMD ["sh"]         → CMD ["sh"]
//	/bin/sh -c apk add curl               → RUN apk add curl
//	|2 A=1 B=2 /bin/sh -c make            → RUN make
//	RUN /bin/sh -c make # buildkit        → RUN make
//
// White space runs (continued lines) become one space.
func Instruction(createdBy string) string {
	s := strings.Join(strings.Fields(createdBy), " ")
	s = strings.TrimSpace(strings.TrimSuffix(s, "# buildkit"))
	// The classic builder prefixes RUN with its build args: "|N k=v ...".
	if strings.HasPrefix(s, "|") {
		if i := strings.Index(s, "/bin/sh -c "); i > 0 {
			s = s[i:]
		}
	}
	const shell = "/bin/sh -c "
	switch {
	case strings.HasPrefix(s, shell+"#(nop) "):
		return strings.TrimSpace(strings.TrimPrefix(s, shell+"#(nop) "))
	case strings.HasPrefix(s, shell):
		return "RUN " + strings.TrimPrefix(s, shell)
	case strings.HasPrefix(s, "RUN "+shell):
		return "RUN " + strings.TrimPrefix(s, "RUN "+shell)
	}
	return s
}
