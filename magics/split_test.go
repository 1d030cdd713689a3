package magics

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		cell string
		want []Segment
	}{
		{"empty", "", nil},
		{"blank", "\n  \n", nil},
		{"go only", "x := 1\nfmt.Println(x)", []Segment{
			{Kind: GoCode, Text: "x := 1\nfmt.Println(x)", Line: 1},
		}},
		{"cell magic", "\n%%writefile -a \"a b.txt\"\nline 1\n%not a magic\n", []Segment{
			{Kind: CellMagic, Text: "%%writefile -a \"a b.txt\"\nline 1\n%not a magic", Line: 2,
				Name: "writefile", Args: `-a "a b.txt"`, Body: "line 1\n%not a magic\n"},
		}},
		{"cell magic without body", "%%time", []Segment{
			{Kind: CellMagic, Text: "%%time", Line: 1, Name: "time"},
		}},
		{"mixed", "%cd x\ny := 2\n\nz := y\n  !ls -l\n%env  A=b c ", []Segment{
			{Kind: LineMagic, Text: "%cd x", Line: 1, Name: "cd", Args: "x"},
			{Kind: GoCode, Text: "y := 2\n\nz := y", Line: 2},
			{Kind: Shell, Text: "ls -l", Line: 5},
			{Kind: LineMagic, Text: "%env  A=b c", Line: 6, Name: "env", Args: "A=b c"},
		}},
		{"exit", "\n exit \n", []Segment{{Kind: LineMagic, Text: "exit", Line: 2, Name: "exit"}}},
		{"quit()", "quit( )", []Segment{{Kind: LineMagic, Text: "quit( )", Line: 1, Name: "quit", Args: "( )"}}},
		{"exit among Go is Go", "x := 1\nexit", []Segment{{Kind: GoCode, Text: "x := 1\nexit", Line: 1}}},
		{"exit with an argument is Go", "exit(1)", []Segment{{Kind: GoCode, Text: "exit(1)", Line: 1}}},
		{"go line numbers after magic", "%pwd\n\n\nx := 1\n\n", []Segment{
			{Kind: LineMagic, Text: "%pwd", Line: 1, Name: "pwd"},
			{Kind: GoCode, Text: "x := 1", Line: 4},
		}},
		{"bang continues an operator", "ok := a &&\n!b\n!echo hi", []Segment{
			{Kind: GoCode, Text: "ok := a &&\n!b", Line: 1},
			{Kind: Shell, Text: "echo hi", Line: 3},
		}},
		{"bang after comma with comment", "f(a, // why\n!b)", []Segment{
			{Kind: GoCode, Text: "f(a, // why\n!b)", Line: 1},
		}},
		{"bang inside brackets", "if x {\n\n!y\n}", []Segment{
			{Kind: GoCode, Text: "if x {\n\n!y\n}", Line: 1},
		}},
		{"percent inside raw string", "s := `\n%d items\n!not shell\n?x\n`\n%pwd", []Segment{
			{Kind: GoCode, Text: "s := `\n%d items\n!not shell\n?x\n`", Line: 1},
			{Kind: LineMagic, Text: "%pwd", Line: 6, Name: "pwd"},
		}},
		{"inside block comment", "/* notes\n!ls\n*/", []Segment{
			{Kind: GoCode, Text: "/* notes\n!ls\n*/", Line: 1},
		}},
		{"closed call then shell", "f(a,\n  b)\n!ls", []Segment{
			{Kind: GoCode, Text: "f(a,\n  b)", Line: 1},
			{Kind: Shell, Text: "ls", Line: 3},
		}},
		{"comment after a finished line", "x := 1 // note\n!ls", []Segment{
			{Kind: GoCode, Text: "x := 1 // note", Line: 1},
			{Kind: Shell, Text: "ls", Line: 2},
		}},
		{"x++ ends a statement", "x++\n!ls", []Segment{
			{Kind: GoCode, Text: "x++", Line: 1},
			{Kind: Shell, Text: "ls", Line: 2},
		}},
		{"help forms", "?fmt.Println\n??x\nstrings.Cut?\n%cd??\n  ?%%time", []Segment{
			{Kind: HelpRequest, Text: "?fmt.Println", Line: 1, Name: "fmt.Println", Detail: 1},
			{Kind: HelpRequest, Text: "??x", Line: 2, Name: "x", Detail: 2},
			{Kind: HelpRequest, Text: "strings.Cut?", Line: 3, Name: "strings.Cut", Detail: 1},
			{Kind: HelpRequest, Text: "%cd??", Line: 4, Name: "%cd", Detail: 2},
			{Kind: HelpRequest, Text: "?%%time", Line: 5, Name: "%%time", Detail: 1},
		}},
		{"help of a cell magic is not a cell magic", "%%time?", []Segment{
			{Kind: HelpRequest, Text: "%%time?", Line: 1, Name: "%%time", Detail: 1},
		}},
		{"not help", "x ? y\n???x", []Segment{
			{Kind: GoCode, Text: "x ? y\n???x", Line: 1},
		}},
		{"late cell magic", "x := 1\n%%time\ny()", []Segment{
			{Kind: GoCode, Text: "x := 1", Line: 1},
			{Kind: LineMagic, Text: "%%time", Line: 2, Name: "%time"},
			{Kind: GoCode, Text: "y()", Line: 3},
		}},
		{"crlf", "%cd x\r\n!ls\r", []Segment{
			{Kind: LineMagic, Text: "%cd x", Line: 1, Name: "cd", Args: "x"},
			{Kind: Shell, Text: "ls", Line: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.cell)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q):\n got %+v\nwant %+v", tt.cell, got, tt.want)
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"  a  b ", []string{"a", "b"}, false},
		{`-a "my file.txt"`, []string{"-a", "my file.txt"}, false},
		{`'it''s' x`, []string{"its", "x"}, false},
		{`"a \"q\" \n"`, []string{`a "q" \n`}, false},
		{`a\ b`, []string{"a b"}, false},
		{`""`, []string{""}, false},
		{`'unterminated`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
