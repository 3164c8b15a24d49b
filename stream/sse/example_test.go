package sse_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sse-demo/movingobject/stream/sse"
)

func ExampleEvent_WriteTo() {
	e := sse.Event{
		ID:   "42",
		Name: "move",
		Data: `{"x":120.5,"y":64.25}`,
	}
	if _, err := e.WriteTo(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// id: 42
	// event: move
	// data: {"x":120.5,"y":64.25}
}

func ExampleEvent_WriteTo_multiline() {
	e := sse.Event{
		Comment: "resume with Last-Event-ID",
		Retry:   2 * time.Second,
		Data:    "first line\nsecond line",
	}
	if _, err := e.WriteTo(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// : resume with Last-Event-ID
	// retry: 2000
	// data: first line
	// data: second line
}

func ExampleEvent_Validate() {
	e := sse.Event{ID: "7\ndata: injected", Data: "x"}
	fmt.Println(e.Validate())
	// Output:
	// sse: event id contains CR, LF or NUL
}

func ExampleDecoder() {
	d := sse.NewDecoder(strings.NewReader(
		"retry: 1500\n: heartbeat\nid: 1\nevent: move\ndata: {\"x\":1}\n\ndata: no name\r\n\r\n"))
	for {
		e, err := d.Next()
		if err != nil {
			break // io.EOF at the end of the stream
		}
		fmt.Printf("%s %s %s\n", e.ID, e.Name, e.Data)
	}
	retry, _ := d.Retry()
	fmt.Println(retry, d.Comments())
	// Output:
	// 1 move {"x":1}
	// 1 message no name
	// 1.5s 1
}
