package runtime

// Entry is one container as `vzctl list` shows it.
type Entry struct {
	CTID       string   `json:"ctid"`
	Name       string   `json:"name"`
	Hostname   string   `json:"hostname"`
	IPs        []string `json:"ip"`
	Status     string   `json:"status"` // running, mounted or stopped
	NProc      int      `json:"numproc"`
	OSTemplate string   `json:"ostemplate"`
	OnBoot     bool     `json:"onboot"`
	Layout     string   `json:"layout"`
	Private    string   `json:"private"`
	Root       string   `json:"root"`
}

// Entries lists the containers; without all only the running ones, as
// vzlist does.
func (s *Store) Entries(all bool) ([]Entry, error) {
	cts, err := s.List()
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, c := range cts {
		st, err := s.status(c)
		if err != nil {
			return nil, err
		}
		if !all && !st.Running {
			continue
		}
		layout, _ := c.Layout() // a bad VE_LAYOUT shows as ""; start names it
		e := Entry{
			CTID: c.ID, Name: c.Name(), Hostname: c.Get("HOSTNAME"), IPs: c.IPs(),
			Status: "stopped", NProc: st.NProc, OSTemplate: c.Get("OSTEMPLATE"),
			OnBoot: c.Get("ONBOOT") == "yes", Layout: string(layout), Private: c.Private, Root: c.Root,
		}
		if e.IPs == nil {
			e.IPs = []string{}
		}
		switch {
		case st.Running:
			e.Status = "running"
		case st.Mounted:
			e.Status = "mounted"
		}
		out = append(out, e)
	}
	return out, nil
}
