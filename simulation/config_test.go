package simulation

import (
	"errors"
	"testing"
	"time"
)

func TestConfig_Validate(t *testing.T) {
	ok := DefaultConfig()
	with := func(f func(*Config)) Config {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" means valid
	}{
		{"default", ok, ""},
		{"all minimums", Config{Width: 10, Height: 10, Step: 1, Interval: 10 * time.Millisecond}, ""},
		{"all maximums", Config{Width: 4000, Height: 4000, Step: 1000, Interval: 60 * time.Second}, ""},
		{"step equals height", with(func(c *Config) { c.Step = 600 }), ""},
		{"step equals width", with(func(c *Config) { c.Width, c.Height, c.Step = 300, 900, 300 }), ""},
		{"tiny box full step", Config{Width: 10, Height: 10, Step: 10, Interval: time.Second}, ""},
		{"thin box", Config{Width: 10, Height: 4000, Step: 10, Interval: time.Second}, ""},
		{"interval not whole ms", with(func(c *Config) { c.Interval = 10*time.Millisecond + 500*time.Microsecond }), ""},

		{"width too small", with(func(c *Config) { c.Width = 9 }), "width: must be an integer in [10, 4000]"},
		{"width too large", with(func(c *Config) { c.Width = 4001 }), "width: must be an integer in [10, 4000]"},
		{"width zero", with(func(c *Config) { c.Width = 0 }), "width: must be an integer in [10, 4000]"},
		{"width negative", with(func(c *Config) { c.Width = -800 }), "width: must be an integer in [10, 4000]"},
		{"height too small", with(func(c *Config) { c.Height = 9 }), "height: must be an integer in [10, 4000]"},
		{"height too large", with(func(c *Config) { c.Height = 4001 }), "height: must be an integer in [10, 4000]"},
		{"zero config", Config{}, "width: must be an integer in [10, 4000]"},
		{"width before height", with(func(c *Config) { c.Width, c.Height = 1, 1 }), "width: must be an integer in [10, 4000]"},

		{"step zero", with(func(c *Config) { c.Step = 0 }), "step: must be an integer in [1, 600]"},
		{"step negative", with(func(c *Config) { c.Step = -5 }), "step: must be an integer in [1, 600]"},
		{"step above height", with(func(c *Config) { c.Step = 601 }), "step: must be an integer in [1, 600]"},
		{"step above width", with(func(c *Config) { c.Width, c.Height, c.Step = 300, 900, 301 }), "step: must be an integer in [1, 300]"},
		{"step above tiny box", Config{Width: 10, Height: 10, Step: 11, Interval: time.Second}, "step: must be an integer in [1, 10]"},
		{"step above MaxStep", Config{Width: 4000, Height: 4000, Step: 1001, Interval: time.Second}, "step: must be an integer in [1, 1000]"},
		{"height before step", with(func(c *Config) { c.Height, c.Step = 5, 0 }), "height: must be an integer in [10, 4000]"},

		{"interval zero", with(func(c *Config) { c.Interval = 0 }), "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval too short", with(func(c *Config) { c.Interval = 10*time.Millisecond - 1 }), "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval too long", with(func(c *Config) { c.Interval = 60*time.Second + 1 }), "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval negative", with(func(c *Config) { c.Interval = -time.Second }), "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"step before interval", with(func(c *Config) { c.Step, c.Interval = 0, 0 }), "step: must be an integer in [1, 600]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("%+v.Validate() = %v; want nil", tt.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%+v.Validate() = nil; want %q", tt.cfg, tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("%+v.Validate() = %q; want %q", tt.cfg, got, tt.wantErr)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%+v.Validate() = %T; want *FieldError", tt.cfg, err)
			}
			if got := fe.Field + ": " + fe.Msg; got != tt.wantErr {
				t.Errorf("FieldError{%q, %q}; want %q", fe.Field, fe.Msg, tt.wantErr)
			}
		})
	}
}

func TestMaxStepFor(t *testing.T) {
	tests := []struct {
		width, height, want int
	}{
		{800, 600, 600},
		{600, 800, 600},
		{10, 10, 10},
		{10, 4000, 10},
		{4000, 4000, 1000},
		{1000, 1001, 1000},
		{2000, 1500, 1000},
	}
	for _, tt := range tests {
		if got := MaxStepFor(tt.width, tt.height); got != tt.want {
			t.Errorf("MaxStepFor(%d, %d) = %d; want %d", tt.width, tt.height, got, tt.want)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	want := Config{Width: 800, Height: 600, Step: 5, Interval: 100 * time.Millisecond}
	if got := DefaultConfig(); got != want {
		t.Errorf("DefaultConfig() = %+v; want %+v", got, want)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v; want nil", err)
	}
}

func TestFieldError_Error(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{"step", "must be an integer in [1, 600]"}, "step: must be an integer in [1, 600]"},
		{FieldError{"", ""}, ": "},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q; want %q", tt.err, got, tt.want)
		}
	}
}
