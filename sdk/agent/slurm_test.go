package agent

import "testing"

func TestRestartsField(t *testing.T) {
	tests := []struct {
		line    string
		want    int
		wantErr bool
	}{
		{"JobId=12 JobName=gantry-x UserId=u(1) JobState=COMPLETING Reason=None Requeue=1 Restarts=1 BatchFlag=1", 1, false},
		{"JobId=12 JobState=RUNNING Restarts=0 BatchFlag=1\n", 0, false},
		{"JobId=12 JobState=RUNNING Restarts=17", 17, false},
		{"JobId=12 JobState=RUNNING", 0, true},
		{"JobId=12 Restarts=x", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := restartsField(tt.line)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("restartsField(%q) = %d, %v; want %d, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}
