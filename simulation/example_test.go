package simulation_test

import (
	"fmt"

	"github.com/sse-demo/movingobject/simulation"
)

// The walk is fixed by its seed. Seed 1 in the default 800x600 box always
// starts and moves like this. Resume from any of these positions carries on
// exactly as the walk did.
func ExampleWalker() {
	cfg := simulation.DefaultConfig()
	w := simulation.NewWalker(cfg, 1)
	fmt.Printf("%+v\n", w.Position())
	for range 5 {
		fmt.Printf("%+v\n", w.Step())
	}

	r, err := simulation.Resume(cfg, 1, simulation.Position{Seq: 3, X: 58, Y: 134})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("resumed: %+v\n", r.Step())
	// Output:
	// {Seq:0 X:65 Y:130}
	// {Seq:1 X:65 Y:134}
	// {Seq:2 X:60 Y:134}
	// {Seq:3 X:58 Y:134}
	// {Seq:4 X:58 Y:137}
	// {Seq:5 X:56 Y:137}
	// resumed: {Seq:4 X:58 Y:137}
}
