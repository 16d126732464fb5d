package containers

import (
	"fmt"
	"math/rand/v2"
)

// Generated names are adjective_noun, like Docker's.
var (
	nameLeft = []string{
		"admiring", "bold", "brave", "clever", "eager", "elated", "epic", "festive",
		"focused", "gallant", "happy", "jolly", "keen", "kind", "lucid", "modest",
		"nifty", "quirky", "serene", "sharp", "stoic", "sweet", "tender", "vibrant",
		"wizardly", "youthful", "zealous", "brisk", "calm", "dapper",
	}
	nameRight = []string{
		"albattani", "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein",
		"euclid", "fermi", "galileo", "hopper", "hypatia", "kepler", "knuth", "lamport",
		"lovelace", "mccarthy", "meitner", "noether", "pascal", "ritchie", "shannon",
		"thompson", "turing", "wozniak", "yalow", "goldberg", "hamilton", "liskov", "torvalds",
	}
)

func generateName(taken map[string]bool) string {
	for i := 0; ; i++ {
		n := nameLeft[rand.IntN(len(nameLeft))] + "_" + nameRight[rand.IntN(len(nameRight))]
		if i > 10 {
			n = fmt.Sprintf("%s%d", n, rand.IntN(100))
		}
		if !taken[n] {
			return n
		}
	}
}
