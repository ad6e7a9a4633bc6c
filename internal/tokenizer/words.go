package tokenizer

import "strings"

// wordList holds lowercase English words that are exactly one token, both
// alone and after a space, in cl100k_base and in o200k_base (checked by
// TestWordsAreSingleTokens). Text made of these words separated by single
// spaces has exactly as many tokens as words, in either encoding, because
// both encodings split such text into one piece per " word" before merging.
// That lets prompts and simulated output be built to an exact token count
// without running the tokenizer, and lets Count skip the tokenizer for them.
const wordList = `time year people way day man thing woman life child world school state family
student group country problem hand part place case week company system program question work
government number night point home water room mother area money story fact month lot right study
book eye job word business issue side kind head house service friend father power hour game line
end member law car city community name team minute idea kid body information back parent face
others level office door health person art war history party result change reason research girl
moment air teacher force education foot boy age policy music market sense nation plan college
interest death experience effect class control care field development role rate heart drug show
leader light voice wife mind price report decision son view relationship town road arm difference
value building action model season tax director position player record paper space ground form
event official matter center site project activity star table need court oil cost industry figure
street image phase stage window river forest bridge castle planet signal engine rocket silver
purple yellow orange green blue red black white gray brown quiet bright dark warm cold soft hard
fast slow early late simple strong happy little large small great young old new good high long
short open final clear free full real true sure best better public private social human local
major national natural please write a very essay that uses all of these words and
do not stop the about keep going user assistant tool developer`

// Words is the list of single-token words, in a fixed order.
type Words []string

// NewWords returns the single-token word list.
func NewWords() Words { return strings.Fields(wordList) }

// wordSet is built once per process; it is read-only after that.
var wordSet = func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, w := range strings.Fields(wordList) {
		m[w] = struct{}{}
	}
	return m
}()

// countWords counts the tokens of s when s is made only of single-token
// words, each separated by one space (a leading space allowed). It reports
// false for any other text, which then needs the real tokenizer.
func countWords(s string) (int, bool) {
	n := 0
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
		}
		i := strings.IndexByte(s, ' ')
		w := s
		if i >= 0 {
			w = s[:i]
		}
		if _, ok := wordSet[w]; !ok {
			return 0, false
		}
		n++
		if i < 0 {
			break
		}
		s = s[i:]
		if len(s) == 1 {
			return 0, false // trailing space is a token of its own
		}
	}
	return n, true
}

// appendWordOffsets is Offsets for text that countWords counts: each word,
// with the space before it, is one token.
func appendWordOffsets(dst []int, s string) ([]int, bool) {
	if _, ok := countWords(s); !ok {
		return dst, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' {
			dst = append(dst, i)
		}
	}
	return append(dst, len(s)), true
}
