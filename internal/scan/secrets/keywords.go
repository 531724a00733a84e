package secrets

import "fmt"

// keywordMatcher finds every occurrence of a set of keywords in a text,
// ignoring ASCII case, in one pass: an Aho-Corasick automaton compiled to
// a dense DFA over byte classes. Folding case in the byte-class table
// saves lowercasing the content first.
type keywordMatcher struct {
	class  [256]uint8
	stride uint32   // number of byte classes
	delta  []uint32 // state*stride + class -> next state*stride, matchBit if it has outputs
	// out lists, per state, the keywords that end there.
	outStart []uint32
	outs     []uint16
	kwLen    []int
}

const matchBit = 1 << 31

// newKeywordMatcher builds a matcher for kws, which must be lowercase and
// non-empty. Hits report the index of the keyword in kws.
func newKeywordMatcher(kws []string) (*keywordMatcher, error) {
	if len(kws) > 1<<16-1 {
		return nil, fmt.Errorf("keyword matcher: %d keywords, at most %d", len(kws), 1<<16-1)
	}
	m := &keywordMatcher{kwLen: make([]int, len(kws))}
	// Byte classes: each byte that occurs in a keyword (with its upper
	// case) gets a class; all other bytes share class 0.
	nclass := 1
	for _, k := range kws {
		if k == "" {
			return nil, fmt.Errorf("keyword matcher: empty keyword")
		}
		for i := 0; i < len(k); i++ {
			b := k[i]
			if 'A' <= b && b <= 'Z' {
				return nil, fmt.Errorf("keyword matcher: keyword %q is not lowercase", k)
			}
			if m.class[b] == 0 {
				if nclass == 255 {
					return nil, fmt.Errorf("keyword matcher: too many distinct bytes")
				}
				m.class[b] = uint8(nclass)
				if 'a' <= b && b <= 'z' {
					m.class[b-'a'+'A'] = uint8(nclass)
				}
				nclass++
			}
		}
	}
	m.stride = uint32(nclass)

	// The trie.
	type node struct {
		next map[uint8]int
		fail int
		outs []uint16
	}
	nodes := []node{{next: map[uint8]int{}}}
	for i, k := range kws {
		m.kwLen[i] = len(k)
		s := 0
		for j := 0; j < len(k); j++ {
			c := m.class[k[j]]
			t, ok := nodes[s].next[c]
			if !ok {
				t = len(nodes)
				nodes = append(nodes, node{next: map[uint8]int{}})
				nodes[s].next[c] = t
			}
			s = t
		}
		nodes[s].outs = append(nodes[s].outs, uint16(i))
	}
	if len(nodes)*nclass >= matchBit {
		return nil, fmt.Errorf("keyword matcher: automaton too large")
	}

	// Breadth-first: failure links, inherited outputs, full transitions.
	delta := make([]uint32, len(nodes)*nclass)
	order := make([]int, 0, len(nodes))
	order = append(order, 0)
	for c := 0; c < nclass; c++ {
		if t, ok := nodes[0].next[uint8(c)]; ok {
			nodes[t].fail = 0
			delta[c] = uint32(t)
			order = append(order, t)
		}
	}
	for qi := 1; qi < len(order); qi++ {
		s := order[qi]
		nodes[s].outs = append(nodes[s].outs, nodes[nodes[s].fail].outs...)
		for c := 0; c < nclass; c++ {
			if t, ok := nodes[s].next[uint8(c)]; ok {
				nodes[t].fail = int(delta[nodes[s].fail*nclass+c])
				delta[s*nclass+c] = uint32(t)
				order = append(order, t)
			} else {
				delta[s*nclass+c] = delta[nodes[s].fail*nclass+c]
			}
		}
	}
	// Premultiply state numbers and flag states with outputs.
	m.outStart = make([]uint32, len(nodes)+1)
	for s := range nodes {
		m.outStart[s] = uint32(len(m.outs))
		m.outs = append(m.outs, nodes[s].outs...)
	}
	m.outStart[len(nodes)] = uint32(len(m.outs))
	for i, t := range delta {
		v := t * uint32(nclass)
		if len(nodes[t].outs) > 0 {
			v |= matchBit
		}
		delta[i] = v
	}
	m.delta = delta
	return m, nil
}

// scan calls hit for each occurrence of a keyword in text, with the
// keyword's index and the offset of its first byte, in order of the
// occurrences' ends.
func (m *keywordMatcher) scan(text []byte, hit func(kw int, start int)) {
	delta, class, stride := m.delta, &m.class, m.stride
	var s uint32
	for i, b := range text {
		s = delta[s+uint32(class[b])]
		if s&matchBit != 0 {
			s &^= matchBit
			st := s / stride
			for _, k := range m.outs[m.outStart[st]:m.outStart[st+1]] {
				hit(int(k), i+1-m.kwLen[k])
			}
		}
	}
}
