package runner

import (
	"fmt"
	"time"
)

// StepError is how a step failed. Exactly one of a non-zero ExitCode,
// TimedOut, Cancelled or a start/wait Err describes it.
type StepError struct {
	Step      string
	ExitCode  int  // the shell's status; 128+N when killed by signal N; -1 when it has none
	TimedOut  bool // the step's timeout or the stage's deadline
	Cancelled bool // the stage was cancelled
	Timeout   time.Duration
	Err       error // the cause, when there is one beyond the exit status
}

func (e *StepError) Error() string { return fmt.Sprintf("step %q %s", e.Step, e.outcome()) }

func (e *StepError) Unwrap() error { return e.Err }

// footer is the outcome as the log's last line for the step says it.
func (e *StepError) footer() string {
	if e == nil {
		return "exit 0"
	}
	if !e.TimedOut && !e.Cancelled && e.Err == nil {
		return fmt.Sprintf("exit %d", e.ExitCode)
	}
	return e.outcome()
}

// outcome is the message without the step name, also used in the log footer.
func (e *StepError) outcome() string {
	switch {
	case e.TimedOut && e.Timeout == 0: // the stage's deadline passed before it started
		return "timed out"
	case e.TimedOut:
		return fmt.Sprintf("timed out after %s", e.Timeout)
	case e.Cancelled:
		return "was cancelled"
	case e.Err != nil:
		return "failed: " + e.Err.Error()
	default:
		return fmt.Sprintf("exited with status %d", e.ExitCode)
	}
}
