package environment

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	// noMatch is pip's line for a requirement it found no distribution of.
	noMatch = regexp.MustCompile(`No matching distribution found for (\S+)`)
	// separators are the runs of characters PEP 503 treats as one "-".
	separators = regexp.MustCompile(`[-_.]+`)
)

// pipHint explains pip's "No matching distribution found for REQ" in a
// build log of c: where pip looked, and what the local --find-links
// directories hold of the project. It is "" for other failures.
func pipHint(c *CondaDependencies, log string) string {
	m := noMatch.FindStringSubmatch(log)
	if m == nil {
		return ""
	}
	req := m[1]
	project := projectName(req)
	o := c.PipOptions
	var where []string
	if !o.NoIndex {
		index := o.IndexURL
		if index == "" {
			index = "PyPI"
		}
		where = append(where, "the index "+strings.Join(append([]string{index}, o.ExtraIndexURLs...), ", "))
	}
	for _, link := range o.FindLinks {
		where = append(where, findLinksNote(link, project))
	}
	if len(where) == 0 {
		return fmt.Sprintf("pip found no distribution of %s, and --no-index leaves it nowhere to look: add --find-links DIR (a directory of wheels) or drop --no-index", req)
	}
	return fmt.Sprintf("pip found no distribution of %s that fits this Python and platform; it looked in %s. Check the name and the version pin", req, strings.Join(where, "; "))
}

// findLinksNote says what a --find-links location holds of project.
func findLinksNote(link, project string) string {
	if !isLocalPath(link) {
		return "--find-links " + link
	}
	abs, _ := filepath.Abs(link)
	entries, err := os.ReadDir(link)
	switch {
	case err != nil && !filepath.IsAbs(link):
		return fmt.Sprintf("--find-links %s, which is relative to the directory pip ran in and is not there (%s does not exist): in conda_dependencies.yml read with ReadCondaFile it is relative to the file; elsewhere give an absolute path", link, abs)
	case err != nil:
		return fmt.Sprintf("--find-links %s, which does not exist on the machine that builds", link)
	}
	var have []string
	for _, e := range entries {
		if projectName(distName(e.Name())) == project {
			have = append(have, e.Name())
		}
	}
	if len(have) == 0 {
		return fmt.Sprintf("--find-links %s, which holds no file of %s", link, project)
	}
	return fmt.Sprintf("--find-links %s, which holds %s", link, strings.Join(have, ", "))
}

// projectName is the normalised project name of a requirement
// ("Gantry_Tiny==0.1.0" -> "gantry-tiny"), as PEP 503 compares names.
func projectName(req string) string {
	end := strings.IndexAny(req, "<>=!~;[ (@")
	if end >= 0 {
		req = req[:end]
	}
	return strings.ToLower(separators.ReplaceAllString(req, "-"))
}

// distName is the project part of a wheel or sdist file name, up to the
// hyphen before the version ("tinystats-0.1.0-py3-none-any.whl" ->
// "tinystats", "my-pkg-1.0.tar.gz" -> "my-pkg").
func distName(file string) string {
	for i := 0; i+1 < len(file); i++ {
		if file[i] == '-' && file[i+1] >= '0' && file[i+1] <= '9' {
			return file[:i]
		}
	}
	return file
}
