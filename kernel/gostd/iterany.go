package gostd

import (
	"iter"
	"reflect"
)

func init() {
	// The compiled halves of the interpreted iter.Pull and iter.Pull2
	// (iter.go.txt): coroutines are for compiled code.
	Symbols["gantry/kernel/gostd/iterany/iterany"] = map[string]reflect.Value{
		"Pull":  reflect.ValueOf(pullAny),
		"Pull2": reflect.ValueOf(pull2Any),
	}
}

// pullAny is iter.Pull for seq, a func(yield func(V) bool) of any V, with
// the values as any. The sequence is called through reflect, so an
// interpreted func of any element type will do.
func pullAny(seq any) (func() (any, bool), func()) {
	sv := reflect.ValueOf(seq)
	yt := sv.Type().In(0)
	return iter.Pull(func(yield func(any) bool) {
		y := reflect.MakeFunc(yt, func(args []reflect.Value) []reflect.Value {
			return []reflect.Value{reflect.ValueOf(yield(args[0].Interface()))}
		})
		sv.Call([]reflect.Value{y})
	})
}

// pull2Any is iter.Pull2 for seq, a func(yield func(K, V) bool).
func pull2Any(seq any) (func() (any, any, bool), func()) {
	sv := reflect.ValueOf(seq)
	yt := sv.Type().In(0)
	return iter.Pull2(func(yield func(any, any) bool) {
		y := reflect.MakeFunc(yt, func(args []reflect.Value) []reflect.Value {
			return []reflect.Value{reflect.ValueOf(yield(args[0].Interface(), args[1].Interface()))}
		})
		sv.Call([]reflect.Value{y})
	})
}
