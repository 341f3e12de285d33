package demo

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// FirstEvent is the time of the first event of the classic data set.
var FirstEvent = time.Date(2016, 7, 26, 2, 45, 7, 0, time.UTC)

// Event is one record of the classic data set.
type Event struct {
	Time   int64  // epoch seconds
	Action string // "Open" or "Close"
}

// DataSpec describes a generated data set shaped like the classic one.
type DataSpec struct {
	Events int    // total events, half Open and half Close; 0 means 100000
	Files  int    // number of files; 0 means 50
	Seed   uint64 // 0 means 1
}

func (s DataSpec) withDefaults() DataSpec {
	if s.Events == 0 {
		s.Events = 100000
	}
	if s.Files == 0 {
		s.Files = 50
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	return s
}

// Generate returns the events of spec in time order. Like the classic
// set, devices open at about 1,000 per hour from FirstEvent on, and each
// closes between 1 second and 2 hours after it opened, so every Close
// follows its Open and Opens and Closes are equal in number. The same spec
// always gives the same events.
func Generate(spec DataSpec) []Event {
	spec = spec.withDefaults()
	rng := rand.New(rand.NewPCG(spec.Seed, 0x686f7572676c6173)) // "hourglas"
	pairs := spec.Events / 2
	events := make([]Event, 0, 2*pairs)
	at := FirstEvent.Unix()
	for i := 0; i < pairs; i++ {
		if i > 0 {
			at += int64(rng.ExpFloat64()*3.6 + 0.5) // mean gap 3.6 s: 1,000 per hour
		}
		events = append(events,
			Event{Time: at, Action: "Open"},
			Event{Time: at + 1 + rng.Int64N(2*3600-1), Action: "Close"})
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time < events[j].Time })
	return events
}

// WriteFiles writes events as JSON lines into spec.Files files named
// file-0.json, file-1.json, ... in dir, consecutive events per file, and
// sets their modification times one second apart in file order, so that
// a file source reading oldest first reads them in order. It returns the
// file paths.
func WriteFiles(dir string, events []Event, files int) ([]string, error) {
	if files <= 0 {
		return nil, fmt.Errorf("files must be positive, got %d", files)
	}
	per := (len(events) + files - 1) / files
	base := time.Now().Add(-time.Duration(files) * time.Second)
	var paths []string
	for i := 0; i < files; i++ {
		lo, hi := min(i*per, len(events)), min((i+1)*per, len(events))
		path := filepath.Join(dir, "file-"+strconv.Itoa(i)+".json")
		if err := writeJSONLines(path, events[lo:hi]); err != nil {
			return nil, err
		}
		mt := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(path, mt, mt); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeJSONLines(path string, events []Event) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, e := range events {
		fmt.Fprintf(w, "{\"time\":%d,\"action\":%q}\n", e.Time, e.Action)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
