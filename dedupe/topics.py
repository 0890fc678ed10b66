"""Topics: group the stories that are not copies of one another by what they are about.

TF-IDF (sublinear term frequency, L2-normalised rows) over each story's content words, then
average-linkage agglomerative clustering on cosine distance, cut at ``settings.topic_distance``.
Average linkage on cosine distance is one minus the mean similarity between two topics' stories, so
a topic grows only while its stories are, on average, about the same things, and one story that
touches two subjects cannot chain them together as it would under single linkage. A distance
threshold needs no guess of how many topics there are, which a feed never says.

The default threshold, 0.9, keeps the seed page's three topics apart (its next merge, of labour
stories from three countries, comes at 0.93) and scores ARI 0.81, NMI 0.93 on the Google News story
clusters. BBC sections and AG News classes are whole desks, far coarser than a topic: at 0.9 they
score ARI 0.05 and 0.005 (NMI 0.43 and 0.28) with homogeneity 0.97 and 0.88: topics stay within
a desk. Approaching the desks takes 0.97 (BBC ARI 0.65), which merges unrelated feed stories.

Agglomerative clustering needs every pairwise distance, so it only ever sees a block of at most
``settings.topic_block_size`` stories; an input that small (a feed page, a day of one outlet) is
clustered exactly. A larger input is first cut into blocks of neighbouring stories: TruncatedSVD
(short news texts share few exact words; the latent space still puts "tariff" near "trade") and
MiniBatchKMeans with about two blocks per ``topic_block_size`` stories, cutting again any block
that comes out too large. A topic is far smaller than a block, so it seldom straddles a boundary;
where one does, it comes out as two topics with similar labels, which costs far less than the n x n
matrix that would prevent it. On the Google News story clusters (11,109 snippets) blocks of 500 to
4,000 stories scored ARI 0.79-0.82 against 0.78 for one exact block: k-means even keeps average
linkage from bridging unrelated stories. Cost is linear in n for the partition plus
``n * topic_block_size`` for the blocks: the 68,029 stories a scan of 100,000 leaves take 3 s of
CPU in one process (1.2 the partition, 1.0 the blocks), and a second more to import
scikit-learn, which only a partitioned input needs.

Every step is seeded and the input is put in id order first, so the same stories give the same
topics. Above ``topic_block_size`` the partition does floating-point work in BLAS, on one thread
whatever the machine has, so that the thread count cannot move a story across a block boundary
(another processor's BLAS kernels still may).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage

from .compiled import jit, worth
from .rows import Rows
from .settings import Settings
from .story import Topic

# On the Google News story clusters in blocks of 500, 32/64/100/128 dimensions gave ARI
# 0.81/0.82/0.83/0.84, while the SVD's time grows with them: 100 is where the gain runs out.
_PARTITION_DIMENSIONS = 100
# Rows the latent space is fitted on: the labelled topic sets (up to 11,109 stories) are fitted
# on every row.
_PARTITION_SAMPLE = 20_000
# The randomized SVD's power iterations (scikit-learn's default is 5, with an LU decomposition
# after each): with 2, the words that two rows share and one k-means start (below), the
# partition of 68,029 stories took 1.3 s instead of 3.8, and over four seeds the Google News
# story clusters scored ARI 0.80-0.82, NMI 0.927-0.930 against 0.80-0.81, 0.926-0.931 before;
# BBC and AG News NMI moved by less than 0.002.
_POWER_ITERATIONS = 2
_RANDOM_STATE = 0
# Fewer blocks than this are clustered here rather than by ``map_blocks``' processes.
_BLOCKS_SENT = 16
# A (word, row) or (row, column) pair as one sortable 64-bit key.
_HIGH = np.uint64(32)
_LOW = np.uint64(0xFFFF_FFFF)


def load_partition() -> None:
    """Import now what cutting a large input into blocks needs (scikit-learn: most of a second),
    so that a scan can do it on a thread of its own while its workers fingerprint."""
    import sklearn.cluster  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import sklearn.preprocessing  # noqa: F401
    import threadpoolctl  # noqa: F401


def cluster_topics(
    ids: Sequence[str],
    words: Rows,
    vocabulary: Mapping[int, str],
    settings: Settings,
    map_blocks: Callable[..., Iterable[np.ndarray]] = map,
) -> tuple[Topic, ...]:
    """Topics of at least ``settings.topic_min_size`` stories, largest first.

    ``ids`` are the stories' ids, in order, and ``words`` their topic words (row by row: hashes
    of content words with a letter in them, ``fingerprint.Prints.topic_words``), ``vocabulary``
    the text of each; a story with no word joins no topic. Topic ids run "t1", "t2", ... by size,
    then by first member id; members are in id order. ``map_blocks`` maps a function over the
    blocks, in order: a process pool's ``imap`` clusters them side by side.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("cluster_topics: story ids must be unique")
    by_id = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
    # A scan's rows are in id order already.
    if np.any(by_id[1:] < by_id[:-1]):
        ids = [ids[i] for i in by_id.tolist()]
        words = words.take(by_id)
    if not len(words.values):
        return ()
    counts, terms = _counts(words, vocabulary)
    kept = np.flatnonzero(counts.getnnz(axis=1))
    if len(kept) < max(settings.topic_min_size, 1):
        return ()

    weights = _weights(counts[kept])
    labels = _cluster(weights, settings, map_blocks)
    # A stable sort keeps each cluster's rows, and so its members, in id order.
    by_label = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    ends = np.cumsum(sizes).tolist()
    clusters = [
        by_label[ends[c] - sizes[c] : ends[c]]
        for c in np.flatnonzero(sizes >= max(settings.topic_min_size, 1)).tolist()
    ]
    story_ids = [ids[row] for row in kept.tolist()]
    clusters.sort(key=lambda rows: (-len(rows), story_ids[rows[0]]))
    labels_ = _labels(weights, clusters, terms, settings.topic_label_terms)
    return tuple(
        Topic(id=f"t{number}", label=label, members=tuple(story_ids[r] for r in rows.tolist()))
        for number, (rows, label) in enumerate(zip(clusters, labels_, strict=True), start=1)
    )


def _counts(words: Rows, vocabulary: Mapping[int, str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Each story's counts of every word, columns in the words' alphabetical order (as a
    vectorizer would have them: the partition's SVD depends on the order), and those words.

    Two sorts of 64-bit keys, (word, row) and then (row, column), do what ``np.unique`` with its
    inverse and a COO matrix's summing and sorting did in twice the time (0.51 -> 0.27 s for
    3.3 million words at 68,029 stories)."""
    # Worked in place: each new array of 3.3 million keys costs its page faults.
    keys = words.values.astype(np.uint64)
    keys <<= _HIGH
    keys |= np.repeat(np.arange(len(words), dtype=np.uint64), words.lengths)
    keys.sort()
    word = keys >> _HIGH
    first = np.flatnonzero(np.concatenate(([True], word[1:] != word[:-1])))
    terms = [vocabulary[h] for h in word[first].tolist()]
    del word
    alphabetical = sorted(range(len(terms)), key=terms.__getitem__)
    place = np.empty(len(terms), dtype=np.uint64)
    place[alphabetical] = np.arange(len(terms), dtype=np.uint64)
    keys &= _LOW
    keys <<= _HIGH
    keys |= np.repeat(place, np.diff(first, append=len(keys)))
    keys.sort()
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    cells = keys[starts]
    counts = sparse.csr_matrix(
        (
            np.diff(starts, append=len(keys)).astype(np.float32),
            (cells & _LOW).astype(np.int32),
            np.searchsorted(cells, np.arange(len(words) + 1, dtype=np.uint64) << _HIGH),
        ),
        shape=(len(words), len(terms)),
    )
    return counts, np.array([terms[i] for i in alphabetical], dtype=str)


def _weights(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """TF-IDF, to the bit as scikit-learn's ``TfidfTransformer(sublinear_tf=True)`` weighs it:
    1 + log of the count, times the smoothed idf 1 + log((n + 1) / (df + 1)), each row scaled to
    length 1. scikit-learn takes most of a second to import, which a feed page's topics need for
    nothing else (only an input of more than ``topic_block_size`` stories is partitioned)."""
    rows, columns = counts.shape
    idf = np.bincount(counts.indices, minlength=columns).astype(np.float32)
    idf += 1.0
    np.divide(np.float32(rows + 1), idf, out=idf)
    np.log(idf, out=idf)
    idf += 1.0
    data = np.log(counts.data)
    data += 1.0
    data *= idf[counts.indices]
    worth(len(data))
    _normalize_rows(counts.indptr, data)
    return sparse.csr_matrix(
        (data, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape
    )


def _cluster(
    weights: sparse.csr_matrix, settings: Settings, map_blocks: Callable[..., Iterable[np.ndarray]]
) -> np.ndarray:
    """A cluster label per row, each block clustered on its own."""
    labels = np.empty(weights.shape[0], dtype=np.int64)
    offset = 0
    blocks = _blocks(weights, settings.topic_block_size)
    agglomerate = partial(_agglomerate, distance=settings.topic_distance)
    # Sending blocks away pays only when there are many: each worker first imports this module.
    mapped = map_blocks if len(blocks) >= _BLOCKS_SENT else map
    for block, block_labels in zip(
        blocks, mapped(agglomerate, (weights[block] for block in blocks)), strict=True
    ):
        labels[block] = block_labels + offset
        offset += int(block_labels.max()) + 1
    return labels


def _blocks(weights: sparse.csr_matrix, block_size: int) -> list[np.ndarray]:
    """Row indices cut into blocks of at most ``block_size`` similar rows."""
    rows = weights.shape[0]
    if rows <= block_size:
        return [np.arange(rows)]
    from threadpoolctl import threadpool_limits

    # The partition's dense steps are small: on two BLAS and OpenMP threads it took as long
    # (1.25 s at 68,029 stories) and 2.1 s of CPU instead of 1.25.
    with threadpool_limits(limits=1):
        return _split(_reduce(weights), block_size)


def _split(points: np.ndarray, block_size: int) -> list[np.ndarray]:
    """Row indices cut by k-means into blocks of at most ``block_size``, each cut again until it
    is that small."""
    from sklearn.cluster import MiniBatchKMeans

    pending = [np.arange(len(points))]
    blocks = []
    while pending:
        block = pending.pop()
        if len(block) <= block_size:
            blocks.append(block)
            continue
        count = min(math.ceil(2 * len(block) / block_size), len(block))
        # One start: the blocks only need to keep neighbours together, and each start's
        # k-means++ cost as much as the rest of the fit.
        kmeans = MiniBatchKMeans(
            n_clusters=count, n_init=1, batch_size=4096, random_state=_RANDOM_STATE
        )
        assignment = kmeans.fit_predict(points[block])
        parts = [block[assignment == part] for part in range(count)]
        parts = [part for part in parts if len(part)]
        if len(parts) == 1:
            # Indistinguishable rows (one text many times over): any cut is as good as another.
            parts = np.array_split(block, count)
        pending.extend(parts)
    return blocks


def _reduce(weights: sparse.csr_matrix) -> np.ndarray:
    """Unit-length latent vectors, so that k-means' Euclidean distance follows cosine distance.

    The latent space is fitted on at most ``_PARTITION_SAMPLE`` rows, evenly spread in id order,
    and on the words that at least two of them share, and every row is projected into it: the
    directions of a corpus's main subjects are already clear in a sample, a word seen once
    points to no subject, and fitting on every row and word took most of the time of topics at
    100,000 stories."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    step = max(1, math.ceil(weights.shape[0] / _PARTITION_SAMPLE))
    sample = weights[::step]
    shared = np.flatnonzero(np.bincount(sample.indices, minlength=weights.shape[1]) >= 2)
    weights = weights[:, shared]
    dimensions = min(_PARTITION_DIMENSIONS, sample.shape[0] - 1, len(shared) - 1)
    if dimensions < 2:
        # So few shared words that the rows are already short vectors.
        return weights.toarray()
    svd = TruncatedSVD(
        n_components=dimensions, n_iter=_POWER_ITERATIONS, random_state=_RANDOM_STATE
    )
    # When all rows are alike the SVD's explained-variance ratio (unused here) divides by zero.
    with np.errstate(divide="ignore", invalid="ignore"):
        if step == 1:
            return normalize(svd.fit_transform(weights))
        svd.fit(sample[:, shared])
        return normalize(svd.transform(weights))


def _agglomerate(weights: sparse.csr_matrix, distance: float) -> np.ndarray:
    """Average-linkage clusters of the rows, merged while closer than ``distance``.

    A row with no other row that close can only stay alone (an average of distances at least
    ``distance`` is no less), so only the others are linked: at 68,029 stories a sixth of the
    rows, which cost a third of the linkage's time."""
    rows = weights.shape[0]
    if rows == 1:
        return np.zeros(1, dtype=np.int64)
    columns = weights.tocsc()
    per_word = np.diff(columns.indptr).astype(np.int64)
    distances = np.empty(rows * (rows - 1) // 2)
    near = np.zeros(rows, dtype=np.bool_)
    worth(int(per_word @ per_word) // 2 + len(distances))
    # Just above ``distance``, so that no rounding of an average can bring a row left alone
    # under it.
    _cosine_distances(
        weights.indptr,
        weights.indices,
        weights.data,
        columns.indptr,
        columns.indices,
        columns.data,
        distance + 1e-9,
        distances,
        near,
    )
    joined = np.flatnonzero(near)
    labels = np.empty(rows, dtype=np.int64)
    found = 0
    if len(joined):
        _pack(distances, near)
        # SciPy's nearest-neighbour chain: the same merges as scikit-learn's average linkage, in
        # half the time. A merge at exactly ``distance`` is not made, as scikit-learn's threshold
        # has it.
        tree = linkage(distances[: len(joined) * (len(joined) - 1) // 2], method="average")
        labels[joined] = fcluster(tree, np.nextafter(distance, 0.0), criterion="distance") - 1
        found = int(labels[joined].max()) + 1
    alone = np.flatnonzero(~near)
    labels[alone] = np.arange(found, found + len(alone))
    return labels


def _labels(
    weights: sparse.csr_matrix, clusters: list[np.ndarray], terms: np.ndarray, count: int
) -> list[str]:
    """Each topic's label: the terms that weigh most in its centroid, ties to the alphabetically
    first (columns are in alphabetical order). All topics at once: one sparse product sums each
    topic's rows, where taking every topic's rows apart cost a second at 100,000 stories."""
    if not clusters:
        return []
    member_rows = np.concatenate(clusters)
    topic = np.repeat(np.arange(len(clusters)), [len(rows) for rows in clusters])
    membership = sparse.csr_matrix(
        (np.ones(len(member_rows)), (topic, member_rows)), shape=(len(clusters), weights.shape[0])
    )
    totals = (membership @ weights.astype(np.float64)).tocsr()
    totals.sort_indices()
    # Each round takes every topic's heaviest term left, the first column of its ties: ``count``
    # rounds over the entries cost a tenth of sorting them all by topic, weight and column.
    weight = totals.data.copy()
    lengths = np.diff(totals.indptr)
    words: list[list[str]] = [[] for _ in clusters]
    for _ in range(count):
        heaviest = np.repeat(np.maximum.reduceat(weight, totals.indptr[:-1]), lengths)
        at = np.flatnonzero(weight == heaviest)
        topic = np.searchsorted(totals.indptr, at, side="right") - 1
        first = np.concatenate(([True], topic[1:] != topic[:-1]))
        at, topic = at[first], topic[first]
        # A topic whose terms are all taken has only taken ones left.
        left = weight[at] > -np.inf
        at, topic = at[left], topic[left]
        weight[at] = -np.inf
        for t, term in zip(topic.tolist(), terms[totals.indices[at]].tolist(), strict=True):
            words[t].append(term)
    return [" ".join(label) for label in words]


# --- compiled loops --------------------------------------------------------------------------


@jit
def _normalize_rows(indptr, data):
    """Each row of float32 ``data`` divided by its length, the squares summed in float64 in
    order, as scikit-learn's ``normalize`` does it."""
    for i in range(len(indptr) - 1):
        total = 0.0
        for j in range(indptr[i], indptr[i + 1]):
            total += np.float64(data[j] * data[j])
        if total == 0.0:
            continue
        total = np.sqrt(total)
        for j in range(indptr[i], indptr[i + 1]):
            data[j] = np.float64(data[j]) / total


@jit
def _cosine_distances(
    indptr, indices, data, column_starts, column_rows, column_data, cut, out, near
):
    """One minus the dot product of rows i < j (L2-normalised: the cosine distance), at least 0,
    in SciPy's condensed order; ``near`` marks the rows with another closer than ``cut``.

    SciPy's sparse product and dense copy of a block took four times as long (1.8 -> 0.4 s for
    73 blocks at 68,029 stories); the products of each pair are summed in float32 in the order
    of the first row's columns, as SciPy sums them, so the distances are the same to the bit."""
    rows = len(indptr) - 1
    sums = np.zeros(rows, dtype=np.float32)
    # Each column's first entry not yet passed: rows come in order, so the entries after a
    # row's own are the rows after it.
    after = column_starts[:-1].copy()
    at = 0
    for i in range(rows):
        for entry in range(indptr[i], indptr[i + 1]):
            column = indices[entry]
            weight = data[entry]
            after[column] += 1
            for other in range(after[column], column_starts[column + 1]):
                sums[column_rows[other]] += weight * column_data[other]
        for j in range(i + 1, rows):
            distance = max(1.0 - np.float64(sums[j]), 0.0)
            out[at] = distance
            if distance < cut:
                near[i] = True
                near[j] = True
            sums[j] = 0.0
            at += 1


@jit
def _pack(out, near):
    """Move the condensed distances among the rows marked ``near`` to the front of ``out``."""
    rows = len(near)
    at = 0
    source = 0
    for i in range(rows):
        if not near[i]:
            source += rows - i - 1
            continue
        for j in range(i + 1, rows):
            if near[j]:
                out[at] = out[source]
                at += 1
            source += 1
