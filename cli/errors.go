package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// How a failed command ends, as the Docker CLI ends it. Commands return
// errors; exitCode alone turns them into the exit code and the text on
// stderr, and errorLine is the text of each error a command over several
// names prints as it goes on.

// statusError carries an exit code out of a command (a container's exit
// status, or a code a command chose) with the message to print, if any.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// flagError is a flag cobra could not parse.
type flagError struct {
	cmd string
	err error
}

func (e *flagError) Error() string { return e.err.Error() }

// exitCode maps an error to Docker's exit code and the message to print:
//
//	a container's own status, or a code chosen   that code (statusError)
//	a process that could not start               125 berth failed, 126 cannot be
//	                                             invoked, 127 not found (StartError)
//	a flag that does not parse                   125
//	any other failure of run or create           125: berth's own, as docker run's
//	any other command's failure                  1
//
// Kinds do not change the code, as they do not in Docker: a missing
// container fails `run --volumes-from` with 125 and `kill` with 1. Their
// messages are Docker's ("No such container: x", "container x is not
// running"), made where the error is.
func exitCode(cmd *cobra.Command, err error) (int, string) {
	var se *statusError
	if errors.As(err, &se) {
		if se.msg == "" {
			return se.code, ""
		}
		return se.code, "berth: " + se.msg
	}
	var ste *engine.StartError
	if errors.As(err, &ste) {
		return ste.Code, "berth: " + ste.Message
	}
	var fe *flagError
	if errors.As(err, &fe) {
		return 125, fmt.Sprintf("berth: %v\nSee '%s --help'.", fe.err, fe.cmd)
	}
	code := 1
	if cmd != nil && (cmd.Name() == "run" || cmd.Name() == "create") {
		code = 125
	}
	return code, errorLine(err)
}

// errorLine is how an error is printed on stderr (where Docker says
// "Error response from daemon: ", berth, which has no daemon, says
// "Error: ").
func errorLine(err error) string { return "Error: " + err.Error() }

// cannot is the error of an action on one of several named containers,
// worded as Docker's daemon words it ("cannot kill container: NAME: ..."),
// but for a container that is not there, whose message names it already.
func cannot(action, name string, err error) error {
	if err == nil || errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return fmt.Errorf("cannot %s container: %s: %w", action, name, err)
}
