package comm

import "reflect"

// Symbols returns the interpreter export table for import path
// "gantry/comm", bound to m.
func Symbols(m *Manager) map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{
		"gantry/comm/comm": {
			"Comm":             reflect.ValueOf((*Comm)(nil)),
			"RegisterTarget":   reflect.ValueOf(m.RegisterTarget),
			"UnregisterTarget": reflect.ValueOf(m.UnregisterTarget),
			"Targets":          reflect.ValueOf(m.Targets),
			"Open":             reflect.ValueOf(m.Open),
		},
	}
}
