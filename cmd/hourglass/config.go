package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Every flag --some-flag of a command may also come from the environment
// variable HOURGLASS_SOME_FLAG or from the key some-flag of the file that
// --config names (YAML, TOML or JSON, by its extension), in that order of
// precedence below the command line. Values are parsed as the flag parses
// them (booleans strictly: true, false, 1, 0, t, f); a list in the file
// sets a repeatable flag once per element. A key of the file that is not a
// flag of the command is an error, so a typo does not pass unnoticed. The
// reading is viper's (BindPFlag-free: the flags keep their own values, and
// flags.Changed still tells what was set).

// envPrefix is the prefix of the environment variables of flags.
const envPrefix = "HOURGLASS"

// envName is the environment variable of flag.
func envName(flag string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyConfig sets every flag of cmd not given on the command line from
// its environment variable or from file (if not empty).
func applyConfig(cmd *cobra.Command, file string) error {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	fs := cmd.Flags()
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("--config %s: %w", file, err)
		}
		var unknown []string
		for _, k := range v.AllKeys() {
			if f := fs.Lookup(k); f == nil || f.Name == "config" {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return fmt.Errorf("--config %s: %s not a flag of `%s`", file, strings.Join(unknown, ", "), cmd.CommandPath())
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" || f.Name == "version" || !v.IsSet(f.Name) {
			return
		}
		source := "--config " + file
		if env, ok := os.LookupEnv(envName(f.Name)); ok {
			source = fmt.Sprintf("%s=%q", envName(f.Name), env)
		}
		values := []string{v.GetString(f.Name)}
		if list, ok := v.Get(f.Name).([]any); ok {
			values = values[:0]
			for _, x := range list {
				values = append(values, fmt.Sprint(x))
			}
		}
		for _, s := range values {
			if err := fs.Set(f.Name, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v (for --%s)", source, err, f.Name))
				return
			}
		}
	})
	return errors.Join(errs...)
}

// requiredAnnotation lists a command's required flags. cobra's own
// MarkFlagRequired is checked before the configuration is read, so a
// required flag set in the environment would count as missing.
const requiredAnnotation = "hourglass_required_flags"

// requireFlags marks flags of cmd required: checkRequired fails without
// them, wherever they come from.
func requireFlags(cmd *cobra.Command, names ...string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	if have := cmd.Annotations[requiredAnnotation]; have != "" {
		names = append(strings.Split(have, ","), names...)
	}
	cmd.Annotations[requiredAnnotation] = strings.Join(names, ",")
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && !strings.Contains(f.Usage, "(required)") {
			f.Usage += " (required)"
		}
	}
}

// checkRequired fails, as cobra does, when a required flag of cmd is set
// neither on the command line nor by the configuration.
func checkRequired(cmd *cobra.Command) error {
	var missing []string
	for _, n := range strings.Split(cmd.Annotations[requiredAnnotation], ",") {
		if f := cmd.Flags().Lookup(n); n != "" && f != nil && !f.Changed {
			missing = append(missing, fmt.Sprintf("%q", n))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required flag(s) %s not set (on the command line, as %s_…, or in --config)", strings.Join(missing, ", "), envPrefix)
	}
	return nil
}

// topicFlags are --replication-factor and --topic-config, for the topics
// a processor creates.
type topicFlags struct {
	replication int16
	configs     []string
}

func (t *topicFlags) register(f *pflag.FlagSet, which string) {
	f.Int16Var(&t.replication, "replication-factor", 0, "replication factor of "+which+" when created (default: the broker's default.replication.factor)")
	f.StringArrayVar(&t.configs, "topic-config", nil, "a topic config of "+which+" when created, key=value (repeatable), e.g. min.insync.replicas=2")
}

// parse returns the replication factor and the topic configs.
func (t *topicFlags) parse() (int16, map[string]string, error) {
	configs, err := kafka.ParseKeyValues("--topic-config", t.configs)
	return t.replication, configs, err
}
