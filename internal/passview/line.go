// Package passview is what a person sees of syncd's passes: the progress
// line redrawn on a terminal while passes run, and the summary table a
// `syncd sync` prints when they end.
package passview

import (
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Line is one status line kept at the bottom of a terminal: Set redraws
// it in place, and whatever is written through Line (the log) appears
// above it, the line redrawn after. Only a terminal gets a Line: it writes
// carriage returns and an erase-line escape, which a log file or a pipe
// must never see. Safe for concurrent use.
type Line struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int
	text  string // shown now; "" when none
}

// eraseLine returns to the line's start and clears it (CR, then ANSI EL).
const eraseLine = "\r\x1b[K"

// NewLine draws on w, a terminal; width is its width in columns (0 or
// less when unknown), read at each redraw, so a resized window fits.
func NewLine(w io.Writer, width func() int) *Line { return &Line{w: w, width: width} }

// Write writes p above the line: the line is erased, p written, and the
// line drawn again under it. p should end with a newline (a log line does).
func (l *Line) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.text != "" {
		if _, err := io.WriteString(l.w, eraseLine); err != nil {
			return 0, err
		}
	}
	n, err := l.w.Write(p)
	if err == nil && l.text != "" {
		_, err = io.WriteString(l.w, l.text)
	}
	return n, err
}

// Set shows text (one line; cut to the terminal's width) in place of
// what the line showed; "" erases it.
func (l *Line) Set(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text = fit(strings.ReplaceAll(text, "\n", " "), l.width())
	if text == l.text {
		return
	}
	out := eraseLine + text
	if l.text == "" {
		out = "\r" + text
	}
	l.text = text
	_, _ = io.WriteString(l.w, out)
}

// Clear erases the line, leaving the cursor at the start of an empty line.
func (l *Line) Clear() { l.Set("") }

// fit cuts s to width-1 columns (runes), so the terminal never wraps it:
// a wrapped line could not be redrawn in place.
func fit(s string, width int) string {
	if width <= 1 || utf8.RuneCountInString(s) < width {
		return s
	}
	r := []rune(s)
	return string(r[:width-2]) + "…"
}
