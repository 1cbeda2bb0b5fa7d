"""A registry of well-known public crowdsourcing datasets (metadata only, no data).

Each entry records what is known about a dataset: where it comes from, how to
cite it, what its licence says and how big it is.  Fields that could not be
established from the dataset's own distribution are ``None`` ("unknown"); no
number here is a guess.  crowdagg ships none of these datasets and never
downloads anything: :func:`crowdagg.datasets.load_dataset` reads local copies
(see ``docs/datasets.md``).

The ``snow2008_*``, ``mace_*``, ``zheng_*`` and ``act_*`` entries describe the
conversions to the common layout (``answers.csv`` + ``gold.csv``) used by the
project's benchmarks; their counts are those of the converted files (duplicate
rows included).  The other entries describe datasets as their publishers
distribute them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["DatasetInfo", "REGISTRY", "get_dataset_info", "registry_frame", "KINDS"]

Kind = Literal["classification", "ratings", "pairwise", "unknown"]
KINDS = ("classification", "ratings", "pairwise", "unknown")


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about one dataset.

    Attributes
    ----------
    name : str
        Registry name (also the expected folder name under ``$CROWDAGG_DATA``).
    title : str
        One-line description.
    kind : {"classification", "ratings", "pairwise", "unknown"}
        ``classification``: categorical labels with a categorical gold (accuracy
        applies); ``ratings``: numeric ratings with a numeric gold (use interval
        agreement or regression metrics, not accuracy); ``pairwise``: pairwise
        comparisons.
    n_annotations, n_items, n_workers, n_labels, n_gold : int or None
        Sizes as published or as counted in the converted files (``None``:
        unknown).  ``n_gold`` counts gold rows (not all of them need answers).
    citation : str or None
        The paper to cite.
    origin : str or None
        Where to get the data (URL of the repository or page).
    licence : str
        The licence statement, or what is known about its absence.
    source_format : str or None
        Format of the original files: ``"common"`` (``answers.csv`` + ``gold.csv``),
        ``"truth_inference"`` (``answer.csv`` + ``truth.csv``), ``"mace"`` (item x
        annotator CSV + ``.key``), ``"triples"`` or a free description.
    notes : str
        Anything else worth knowing (duplicates, relations to other entries).
    aliases : tuple of str
        Other names the dataset is known by (e.g. ``"D_Product"``).
    registered : bool
        ``False`` for the ad-hoc info made for an unregistered folder.
    """

    name: str
    title: str
    kind: Kind = "classification"
    n_annotations: int | None = None
    n_items: int | None = None
    n_workers: int | None = None
    n_labels: int | None = None
    n_gold: int | None = None
    citation: str | None = None
    origin: str | None = None
    licence: str = "unknown"
    source_format: str | None = None
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    registered: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        def n(v: int | None) -> str:
            return "unknown" if v is None else f"{v:,}"

        lines = [
            f"{self.name}: {self.title}",
            f"  kind: {self.kind}; annotations {n(self.n_annotations)}, items {n(self.n_items)}, "
            f"workers {n(self.n_workers)}, labels {n(self.n_labels)}, gold {n(self.n_gold)}",
            f"  citation: {self.citation or 'unknown'}",
            f"  origin: {self.origin or 'unknown'}",
            f"  licence: {self.licence}",
        ]
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- citations
_ACT = (
    "M. Venanzi, O. Parson, A. Rogers, N. R. Jennings. The ActiveCrowdToolkit: An Open-Source Tool "
    "for Benchmarking Active Learning Algorithms for Crowdsourcing Research. HCOMP 2015 (demo)."
)
_ACT_ORIGIN = "https://github.com/orchidproject/active-crowd-toolkit (Data/)"
_ACT_LICENCE = "Apache-2.0 (repository LICENSE); licence of the underlying data not separately stated"
_RODRIGUES = (
    "F. Rodrigues, F. Pereira, B. Ribeiro. Learning from multiple annotators: distinguishing good "
    "from random labelers. Pattern Recognition Letters 34(12), 2013."
)
_MACE = (
    "D. Hovy, T. Berg-Kirkpatrick, A. Vaswani, E. Hovy. Learning Whom to Trust with MACE. "
    "NAACL-HLT 2013."
)
_MACE_ORIGIN = "https://github.com/dirkhovy/MACE (data/test/<name>.csv + .key)"
_MACE_LICENCE = "no licence file in dirkhovy/MACE; none stated for the data"
_SNOW = (
    "R. Snow, B. O'Connor, D. Jurafsky, A. Y. Ng. Cheap and Fast - But is it Good? Evaluating "
    "Non-Expert Annotations for Natural Language Tasks. EMNLP 2008."
)
_SNOW_ORIGIN = "http://ai.stanford.edu/~rion/annotations/"
_SNOW_AFFECT_ORIGIN = (
    "https://github.com/edwinrobots/bayesian_combination_tutorial2 "
    "(all_collected_data/<name>.standardized.tsv); original release " + _SNOW_ORIGIN
)
_SNOW_LICENCE = "no licence stated for the Snow et al. data (original release " + _SNOW_ORIGIN + ")"
_ZHENG = (
    "Y. Zheng, G. Li, Y. Li, C. Shan, R. Cheng. Truth Inference in Crowdsourcing: Is the Problem "
    "Solved? PVLDB 10(5):541-552, 2017."
)
_ZHENG_ORIGIN = "https://github.com/zhydhkcws/crowd_truth_infer (datasets/)"
_ZHENG_ZIP = "https://zhydhkcws.github.io/crowd_truth_inference/datasets.zip"
_ZHENG_LICENCE = "no licence file and no licence statement in zhydhkcws/crowd_truth_infer"
_CROWDKIT = (
    "D. Ustalov, N. Pavlichenko, B. Tseitlin. Learning from Crowds with Crowd-Kit. "
    "Journal of Open Source Software 9(96):6227, 2024."
)
_CROWDKIT_LICENCE = "not stated in crowd-kit's loader; check the download"


def _snow_affect(emotion: str) -> DatasetInfo:
    return DatasetInfo(
        name=f"snow2008_{emotion}",
        title=f"Snow et al. 2008 affect recognition: '{emotion}' ratings of 100 news headlines",
        kind="ratings",
        n_annotations=1000,
        n_items=100,
        n_workers=38,
        n_labels=None,
        n_gold=100,
        citation=_SNOW,
        origin=_SNOW_AFFECT_ORIGIN,
        licence=_SNOW_LICENCE,
        source_format="tab-separated (!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold)",
        notes="numeric ratings; gold is the expert mean (not a classification set)",
    )


_ENTRIES: list[DatasetInfo] = [
    # ------------------------------------------------------------ ActiveCrowdToolkit
    DatasetInfo(
        name="act_cf",
        title="CrowdFlower weather sentiment (CrowdScale 2013 subset), 5 classes",
        n_annotations=1720, n_items=300, n_workers=461, n_labels=5, n_gold=300,
        citation=_ACT + " Data as described by M. Venanzi, J. Guiver, G. Kazai, P. Kohli, M. Shokouhi. "
        "Community-based Bayesian Aggregation Models for Crowdsourcing. WWW 2014.",
        origin=_ACT_ORIGIN + " CF.csv", licence=_ACT_LICENCE,
        source_format="CSV WorkerID,TaskID,WorkerLabel,GoldLabel",
    ),
    DatasetInfo(
        name="act_cf_amt",
        title="Weather sentiment tweets re-labelled on Amazon Mechanical Turk, 5 classes",
        n_annotations=6030, n_items=300, n_workers=110, n_labels=5, n_gold=300,
        citation=_ACT, origin=_ACT_ORIGIN + " CF_amt.csv", licence=_ACT_LICENCE,
        source_format="CSV WorkerID,TaskID,WorkerLabel,GoldLabel",
        notes="5 duplicate (task, worker) rows",
    ),
    DatasetInfo(
        name="act_ms_music_genre",
        title="Music genre classification on Mechanical Turk, 10 classes",
        n_annotations=2945, n_items=700, n_workers=44, n_labels=10, n_gold=700,
        citation=_ACT + " Data: " + _RODRIGUES, origin=_ACT_ORIGIN + " MS.csv", licence=_ACT_LICENCE,
        source_format="CSV WorkerID,TaskID,WorkerLabel,GoldLabel",
    ),
    DatasetInfo(
        name="act_sp_amt",
        title="Sentence sentiment polarity on Mechanical Turk, binary",
        n_annotations=10000, n_items=500, n_workers=143, n_labels=2, n_gold=500,
        citation=_ACT + " Data: " + _RODRIGUES, origin=_ACT_ORIGIN + " SP_amt.csv", licence=_ACT_LICENCE,
        source_format="CSV WorkerID,TaskID,WorkerLabel,GoldLabel",
    ),
    DatasetInfo(
        name="act_sp_sentiment_polarity",
        title="Movie-review sentence polarity on CrowdFlower, binary",
        n_annotations=27746, n_items=4999, n_workers=203, n_labels=2, n_gold=4999,
        citation=_ACT + " Data: " + _RODRIGUES, origin=_ACT_ORIGIN + " SP.csv", licence=_ACT_LICENCE,
        source_format="CSV WorkerID,TaskID,WorkerLabel,GoldLabel",
    ),
    # ------------------------------------------------------------ MACE copies of Snow et al.
    DatasetInfo(
        name="mace_rte",
        title="Recognising textual entailment (Snow et al. 2008 RTE), binary, positional ids",
        n_annotations=8000, n_items=800, n_workers=164, n_labels=2, n_gold=800,
        citation=_MACE + " Data: " + _SNOW, origin=_MACE_ORIGIN, licence=_MACE_LICENCE,
        source_format="mace", notes="same annotations as snow2008_rte; item/worker ids are 0-based "
        "row/column positions", aliases=("rte",),
    ),
    DatasetInfo(
        name="mace_temporal",
        title="Temporal ordering of events (Snow et al. 2008 temp), binary, positional ids",
        n_annotations=4620, n_items=462, n_workers=76, n_labels=2, n_gold=462,
        citation=_MACE + " Data: " + _SNOW, origin=_MACE_ORIGIN, licence=_MACE_LICENCE,
        source_format="mace", notes="same annotations as snow2008_temp; positional ids",
        aliases=("temporal", "temp"),
    ),
    DatasetInfo(
        name="mace_wsd",
        title="Word sense disambiguation (Snow et al. 2008 wsd), 3 senses, positional ids",
        n_annotations=1770, n_items=177, n_workers=34, n_labels=3, n_gold=177,
        citation=_MACE + " Data: " + _SNOW, origin=_MACE_ORIGIN, licence=_MACE_LICENCE,
        source_format="mace", notes="same annotations as snow2008_wsd; positional ids", aliases=("wsd",),
    ),
    # ------------------------------------------------------------ Snow et al. 2008 originals
    DatasetInfo(
        name="snow2008_rte",
        title="Snow et al. 2008 recognising textual entailment, binary, original MTurk ids",
        n_annotations=8000, n_items=800, n_workers=164, n_labels=2, n_gold=800,
        citation=_SNOW, origin=_SNOW_ORIGIN, licence=_SNOW_LICENCE,
        source_format="tab-separated (!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold)",
        notes="counts as in the MACE copy (mace_rte), which holds the same annotations",
    ),
    DatasetInfo(
        name="snow2008_temp",
        title="Snow et al. 2008 temporal ordering, binary, original MTurk ids",
        n_annotations=4620, n_items=462, n_workers=76, n_labels=2, n_gold=462,
        citation=_SNOW, origin=_SNOW_ORIGIN, licence=_SNOW_LICENCE,
        source_format="tab-separated (!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold)",
        notes="counts as in the MACE copy (mace_temporal)",
    ),
    DatasetInfo(
        name="snow2008_wsd",
        title="Snow et al. 2008 word sense disambiguation, 3 senses, original MTurk ids",
        n_annotations=1770, n_items=177, n_workers=34, n_labels=3, n_gold=177,
        citation=_SNOW, origin=_SNOW_ORIGIN, licence=_SNOW_LICENCE,
        source_format="tab-separated (!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold)",
        notes="counts as in the MACE copy (mace_wsd)",
    ),
    *[_snow_affect(e) for e in ("anger", "disgust", "fear", "joy", "sadness", "surprise", "valence")],
    DatasetInfo(
        name="snow2008_wordsim",
        title="Snow et al. 2008 word similarity: 0-10 ratings of 30 word pairs",
        kind="ratings", n_annotations=300, n_items=30, n_workers=10, n_labels=11, n_gold=30,
        citation=_SNOW, origin=_SNOW_AFFECT_ORIGIN.replace("<name>", "wordsim"), licence=_SNOW_LICENCE,
        source_format="tab-separated (!amt_annotation_ids, !amt_worker_ids, orig_id, response, gold)",
        notes="numeric ratings; gold is the expert mean (not a classification set)",
    ),
    # ------------------------------------------------------------ Zheng et al. 2017 benchmark
    DatasetInfo(
        name="zheng_d_duck",
        title="Duck identification (Welinder et al. 2010 'bluebirds'), binary",
        n_annotations=4212, n_items=108, n_workers=39, n_labels=2, n_gold=108,
        citation=_ZHENG + " Original data: P. Welinder, S. Branson, S. Belongie, P. Perona. The "
        "Multidimensional Wisdom of Crowds. NIPS 2010.",
        origin=_ZHENG_ORIGIN + " 'd_Duck Identification'", licence=_ZHENG_LICENCE,
        source_format="truth_inference", notes="every worker labels every image",
    ),
    DatasetInfo(
        name="zheng_d_jn_product",
        title="Product entity resolution (are two product records the same?), binary",
        n_annotations=24945, n_items=8315, n_workers=176, n_labels=2, n_gold=8315,
        citation=_ZHENG, origin=_ZHENG_ORIGIN + " d_jn-product", licence=_ZHENG_LICENCE,
        source_format="truth_inference", aliases=("D_Product",),
    ),
    DatasetInfo(
        name="zheng_s4_dog",
        title="Stanford Dogs subset, 4 breeds",
        n_annotations=8070, n_items=807, n_workers=109, n_labels=4, n_gold=807,
        citation=_ZHENG + " Original data: D. Zhou, J. Platt, S. Basu, Y. Mao. Learning from the Wisdom "
        "of Crowds by Minimax Entropy. NIPS 2012.",
        origin=_ZHENG_ORIGIN + " 's4_Dog data'", licence=_ZHENG_LICENCE, source_format="truth_inference",
    ),
    DatasetInfo(
        name="zheng_s5_adultcontent",
        title="Adult content rating of web sites (categories G, P, R, X coded 0-3)",
        n_annotations=92721, n_items=11040, n_workers=825, n_labels=4, n_gold=1517,
        citation=_ZHENG + " Data: the AdultContent set of P. Ipeirotis (Mechanical Turk).",
        origin="https://github.com/maifulmax/TIN-model (datasets/s5_AdultContent); original: " + _ZHENG_ZIP,
        licence="no licence file in maifulmax/TIN-model; none stated for the data",
        source_format="truth_inference", aliases=("S_Adult",),
        notes="2,922 duplicate (task, worker) rows; only 333 of the 1,517 gold items have answers",
    ),
    DatasetInfo(
        name="zheng_s4_face",
        title="Face sentiment identification, 4 classes",
        citation=_ZHENG, origin=_ZHENG_ORIGIN + " 's4_Face Sentiment Identification'",
        licence=_ZHENG_LICENCE, source_format="truth_inference",
        notes="sizes not verified here (no local copy was counted)",
    ),
    DatasetInfo(
        name="zheng_n_emotion",
        title="Emotion ratings of news headlines (Snow et al. 2008 affect data, 7 scales)",
        kind="ratings", n_annotations=7000, n_items=700, n_workers=38, n_gold=700,
        citation=_ZHENG + " Data: " + _SNOW,
        origin=_ZHENG_ORIGIN + " f201_Emotion_FULL", licence=_ZHENG_LICENCE,
        source_format="truth_inference", aliases=("N_Emotion",),
        notes="the seven snow2008 affect sets together (sizes = 7 x 100 items, 7 x 1,000 ratings)",
    ),
    DatasetInfo(
        name="zheng_d_possent",
        title="Tweet sentiment polarity (positive/negative), binary",
        citation=_ZHENG, origin=_ZHENG_ZIP, licence="none stated",
        source_format="truth_inference", aliases=("D_PosSent",),
        notes="in the PVLDB 2017 paper's benchmark; sizes not verified here",
    ),
    DatasetInfo(
        name="zheng_s_rel",
        title="TREC 2010 Relevance Feedback track crowd judgments (S_Rel)",
        citation=_ZHENG, origin=_ZHENG_ZIP, licence="none stated",
        source_format="truth_inference", aliases=("S_Rel",),
        notes="the same judgments as nist-trec-relevance (see there for sizes)",
    ),
    # ------------------------------------------------------------ crowd-kit (Toloka) datasets
    DatasetInfo(
        name="relevance-2",
        title="Yandex 'Relevance 2 Gradations' (2016): query-document pairs, relevant or not",
        n_labels=2, citation=_CROWDKIT,
        origin="https://tlk.s3.yandex.net/dataset/crowd-kit/relevance-2.zip",
        licence=_CROWDKIT_LICENCE, source_format="crowd_labels.csv (worker/performer, task, label) + gt.csv",
        notes="about 0.5 million labels (crowd-kit's description)",
    ),
    DatasetInfo(
        name="relevance-5",
        title="Yandex 'Relevance 5 Gradations' (2016): query-document pairs graded 1-5",
        n_labels=5, citation=_CROWDKIT,
        origin="https://tlk.s3.yandex.net/dataset/crowd-kit/relevance-5.zip",
        licence=_CROWDKIT_LICENCE, source_format="crowd_labels.csv (worker/performer, task, label) + gt.csv",
        notes="about 1 million labels (crowd-kit's description)",
    ),
    DatasetInfo(
        name="nist-trec-relevance",
        title="NIST TREC 2010 Relevance Feedback track: ClueWeb09 pages judged by the crowd",
        n_annotations=98453, n_items=20232, n_workers=766, n_gold=3277,
        citation="C. Buckley, M. Lease, M. D. Smucker. Overview of the TREC 2010 Relevance Feedback Track "
        "(notebook). TREC 2010. Distributed by " + _CROWDKIT,
        origin="https://tlk.s3.yandex.net/dataset/crowd-kit/relevance.zip",
        licence=_CROWDKIT_LICENCE, source_format="crowd_labels.csv (worker/performer, task, label) + gt.csv",
        notes="sizes from crowd-kit's description; same data as Zheng et al.'s S_Rel",
    ),
    DatasetInfo(
        name="netease_crowd",
        title="NetEaseCrowd: annotations from NetEase's crowdsourcing platform over about 6 months",
        citation="NetEaseCrowd dataset, https://github.com/fuxiAIlab/NetEaseCrowd-Dataset",
        origin="https://huggingface.co/datasets/liuhyuu/NetEaseCrowd",
        licence="CC BY-SA 4.0 (crowd-kit's description)",
        source_format="crowd_labels.csv (workerId, taskId, answer) + gt.csv (taskId, truth)",
        notes="about 2,400 workers, 1,000,000 tasks, 6,000,000 annotations (crowd-kit's description)",
    ),
    DatasetInfo(
        name="imdb-wiki-sbs",
        title="IMDB-WIKI faces compared side by side on Toloka (who looks older?)",
        kind="pairwise", n_annotations=84543, n_items=2497, n_workers=2085,
        citation=_CROWDKIT, origin="https://tlk.s3.yandex.net/dataset/crowd-kit/imdb-wiki-sbs.zip",
        licence=_CROWDKIT_LICENCE, source_format="crowd-kit pairwise comparisons (left, right, label)",
        notes="pairwise comparisons, not per-item labels: load_dataset does not read this format; "
        "n_items counts images",
    ),
]

#: The registry: name -> :class:`DatasetInfo`.
REGISTRY: dict[str, DatasetInfo] = {d.name: d for d in _ENTRIES}
_ALIASES: dict[str, str] = {
    a.lower(): d.name for d in _ENTRIES for a in d.aliases
}


def get_dataset_info(name: str) -> DatasetInfo | None:
    """The registry entry for ``name`` (or one of its aliases, case-insensitive), else ``None``."""
    if name in REGISTRY:
        return REGISTRY[name]
    low = name.lower()
    for key, info in REGISTRY.items():
        if key.lower() == low:
            return info
    canon = _ALIASES.get(low)
    return REGISTRY[canon] if canon else None


def registry_frame() -> pd.DataFrame:
    """The registry as a DataFrame indexed by name."""
    rows = [d.to_dict() for d in _ENTRIES]
    df = pd.DataFrame(rows).set_index("name")
    for c in ("n_annotations", "n_items", "n_workers", "n_labels", "n_gold"):
        df[c] = df[c].astype("Int64")
    return df.drop(columns=["registered"])
