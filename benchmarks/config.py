"""One run of the reproduction suite (:class:`Config`, its record's key)
and grids of them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List

from torch_geometric_ugt.sparsifier.base import MAX_COATS

# Weight init of the frozen weights, chosen per architecture on VALIDATION
# accuracy (Cora, 2 layers; see docs/reproduction.md): signed-constant
# helps GCN, Kaiming-uniform (the authors' default) is better for GAT; GIN
# keeps the authors' default. Under each model's `best` recipe the other
# init loses for all three (CiteSeer at 0.5, held-out validation nodes;
# benchmarks/results/ticket-pilots/README.md).
WEIGHT_INIT = {"GCN": "signed_constant", "GAT": "kaiming_uniform",
               "GIN": "kaiming_uniform"}
# ... and of the deep tables' models (16 and 32 layers, and the depth sweep)
DEEP_WEIGHT_INIT = "kaiming_uniform"
DEEP_LAYERS = 16
"""Models with this many layers or more are in the "deep" class."""


def depth_class(layers: int) -> str:
    return "deep" if layers >= DEEP_LAYERS else "shallow"


def default_weight_init(model: str, layers: int) -> str:
    """The init of the frozen weights of :obj:`model` with :obj:`layers`
    layers where none is given: per model (``WEIGHT_INIT``) for the
    shallow models, ``DEEP_WEIGHT_INIT`` for the deep ones."""
    if depth_class(layers) == "deep":
        return DEEP_WEIGHT_INIT
    return WEIGHT_INIT.get(model, "kaiming_uniform")


def coats_for(coats: int, coat_width: float, sparsity: float) -> int:
    r"""The coats of a ticket at :obj:`sparsity`: :obj:`coats`, or with a
    :obj:`coat_width` :math:`w > 0` at least one coat per :math:`w` of
    density, :math:`\max(C, \operatorname{round}((1 - s) / w))`. The
    coats are spaced :math:`(1 - s) / C` apart (the sparsifiers'
    ``coat_sparsities``), so each coat adds about a share :math:`w` of
    the weights to the sparser ones."""
    if not coat_width:
        return coats
    return max(coats, round((1.0 - sparsity) / coat_width))


@dataclass(frozen=True)
class Config:
    dataset: str
    model: str
    layers: int
    hidden: int
    method: str
    sparsity: float
    seed: int
    epochs: int = 400
    ramp: int = 200
    lr: float = 0.01
    weight_init: str = ""
    # "" (the plain task), "ood" (leave-out-classes OOD detection, Fig. 6),
    # "feat<R>" / "edge<R>" (a fraction R of nodes / edges perturbed,
    # Fig. 7 / 8)
    variant: str = ""
    # Adam's epsilon of the search (the dense baseline keeps 1e-8)
    adam_eps: float = 1e-8
    # initialisation of the scores (torch_geometric_ugt.init.SCORE_INITS)
    score_init: str = "kaiming_uniform"
    # the sparsifier's weight scale ("" none, "global", "layer")
    rescale: str = ""
    # the output head (benchmarks.models.HEADS, or "tau<T>")
    head: str = ""
    # a learnable scale per masked weight (supermask(learn_scale=True))
    learn_scale: bool = False
    # multicoated masks: this many coats (the sparsifiers' coats)
    coats: int = 1
    # iterative re-randomization of the pruned weights (IteRand), a probe:
    # "p<P>-r<R>" re-draws a share R of them every P epochs
    iterand: str = ""
    # best of this many searches by validation accuracy (restart r uses
    # torch_geometric_ugt.restart_seed(seed, r); restart 0 is the plain run)
    restarts: int = 1
    # dropout of the search model's hidden layers (PyG's basic models';
    # the UGTs protocol has none) and label smoothing of its loss
    dropout: float = 0.0
    smoothing: float = 0.0
    # dropout of the input features during the search (none in the UGTs
    # protocol; a regulariser of wide bag-of-words inputs)
    input_dropout: float = 0.0
    # L2 penalty (Adam's coupled weight_decay) on what the search trains:
    # the scores and, with head "temp", the log temperature
    score_decay: float = 0.0
    # multicoated masks by density: at least one coat per this much
    # density 1 - s, so a denser ticket gets more coats (coats_for); 0
    # keeps coats as given
    coat_width: float = 0.0
    # the weight of each sparser coat against the next denser one: a
    # weight kept by k of the C coats enters at (r^k - 1) / (r^C - 1)
    # instead of k / C (r = 1), so r > 1 leans the ticket on its sparse
    # core (benchmarks.search_settings.CoatLevels)
    coat_ratio: float = 1.0
    # evaluate and select a moving average of the scores (the decay of
    # search_ticket(average=...)); 0 averages nothing
    average: float = 0.0
    # the learning rate is multiplied by this once the ramp ends (a step
    # schedule, as torch.optim.lr_scheduler.MultiStepLR([ramp]) gives)
    late_lr: float = 1.0
    # the validation nodes that select the epoch: "" all of them, "even"
    # the even positions only, so that the odd ones (val_halves[1] in the
    # record) judge the selected ticket on nodes that chose nothing
    select_on: str = ""
    # what chooses the epoch on those nodes: "" the highest validation
    # accuracy (the protocol's), "loss" the lowest validation loss
    # (search_ticket(select="loss"))
    select_by: str = ""
    # GAT's attention vectors stay dense (frozen at their random init)
    # instead of being masked with the weights
    dense_attention: bool = False
    # the learned temperature (head "temp") stops at the end of the ramp
    # and keeps its value there; the scores go on
    freeze_temperature: bool = False
    # dropout of GAT's attention coefficients during the search (GATConv's
    # dropout; the dense baseline has none)
    attention_dropout: float = 0.0
    # a learned sign per masked weight (a signed supermask: the kept
    # weights may flip sign; benchmarks.search_settings.learn_signs)
    signs: bool = False
    # DropEdge: each undirected edge dropped with this probability in
    # every training pass (benchmarks.models.EdgeDropout)
    edge_dropout: float = 0.0
    # Gaussian noise added to every score after each optimizer step, with
    # standard deviation score_noise * lr (the size of one Adam step), drawn
    # from the seed (benchmarks.search_settings.score_noise)
    score_noise: float = 0.0
    # the recipe that chose these settings ("paper", or "best": RECIPES);
    # a label in the record, not part of the key
    recipe: str = "paper"

    def __post_init__(self) -> None:
        if self.method == "dense":  # no scores: one record whatever asked
            object.__setattr__(self, "score_init", "kaiming_uniform")
        self._check_values()
        self._check_combinations()
        if not self.weight_init:
            object.__setattr__(self, "weight_init",
                               default_weight_init(self.model, self.layers))

    def _check_values(self) -> None:
        """Refuses a setting outside its range."""
        if self.restarts < 1:
            raise ValueError(f"restarts must be >= 1; got {self.restarts}.")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise ValueError(f"attention_dropout must be in [0, 1); got "
                             f"{self.attention_dropout}.")
        if not 0.0 <= self.edge_dropout < 1.0:
            raise ValueError(f"edge_dropout must be in [0, 1); got "
                             f"{self.edge_dropout}.")
        if not 0.0 < self.coat_ratio < float("inf"):
            raise ValueError(f"coat_ratio must be a finite number > 0; got "
                             f"{self.coat_ratio}.")
        if not 0.0 <= self.score_noise < float("inf"):
            raise ValueError(f"score_noise must be a finite number >= 0; "
                             f"got {self.score_noise}.")
        if self.select_by not in ("", "loss"):
            raise ValueError(f"select_by must be '' (accuracy) or 'loss'; "
                             f"got {self.select_by!r}.")
        if self.select_on not in ("", "even"):
            raise ValueError(f"select_on must be '' or 'even'; got "
                             f"{self.select_on!r}.")
        if not 0.0 < self.late_lr <= 1.0:
            raise ValueError(f"late_lr must be in (0, 1]; got "
                             f"{self.late_lr}.")
        if not 0.0 <= self.average < 1.0:
            raise ValueError(f"average must be in [0, 1); got "
                             f"{self.average}.")
        if not 0.0 <= self.coat_width <= 1.0:
            raise ValueError(f"coat_width must be in [0, 1]; got "
                             f"{self.coat_width}.")
        if self.coats_in_force() > MAX_COATS:
            raise ValueError(f"coat_width={self.coat_width} gives "
                             f"{self.coats_in_force()} coats at sparsity "
                             f"{self.sparsity}, more than the kernels' "
                             f"{MAX_COATS}: use a larger coat_width.")

    def _check_combinations(self) -> None:
        """Refuses settings that cannot go together."""
        if self.restarts > 1 and self.variant:
            raise ValueError("restarts are for the plain task: the OOD and "
                             "perturbation variants score the searched "
                             "model during the search.")
        if self.dense_attention and self.model != "GAT":
            raise ValueError(f"dense_attention is for GAT's attention "
                             f"vectors; {self.model} has none.")
        if self.attention_dropout and self.model != "GAT":
            raise ValueError(f"attention_dropout is for GAT's attention "
                             f"coefficients; {self.model} has none.")
        if self.edge_dropout and self.model == "GIN" \
                and self.method != "dense":
            raise ValueError("edge_dropout cannot act on a GIN search: its "
                             "first aggregation is computed once, on the "
                             "whole graph (benchmarks.data.config_graph).")
        if self.signs and self.method == "dense":
            raise ValueError("signs are learned for masked weights; the "
                             "dense method has none.")
        if self.score_noise and self.method == "dense":
            raise ValueError("score_noise perturbs the scores of masked "
                             "weights; the dense method has none.")
        if self.signs and self.restarts > 1:
            raise ValueError("signs cannot be combined with restarts: the "
                             "best restart's ticket is rebuilt without its "
                             "learned signs.")
        if self.freeze_temperature and self.head != "temp":
            raise ValueError(f"freeze_temperature stops the learned "
                             f"temperature (head 'temp'); this run's head "
                             f"is {self.head!r}.")
        if self.coat_ratio != 1.0 and (self.method == "dense"
                                       or self.coats_in_force() < 2):
            raise ValueError("coat_ratio weighs the coats of a multicoated "
                             "mask; this run has fewer than 2 coats.")
        if self.coat_ratio != 1.0 and self.restarts > 1:
            raise ValueError("coat_ratio cannot be combined with restarts: "
                             "the best restart's ticket is rebuilt without "
                             "its coat levels.")
        if self.select_by and self.restarts > 1:
            raise ValueError("select_by='loss' cannot be combined with "
                             "restarts: the best restart is chosen on "
                             "validation accuracy.")

    def coats_in_force(self) -> int:
        """The coats of this run's masks (see :func:`coats_for`)."""
        return coats_for(self.coats, self.coat_width, self.sparsity)

    def key(self) -> str:
        sparsity = "dense" if self.method == "dense" else f"s{self.sparsity:g}"
        variant = f"-{self.variant}" if self.variant else ""
        # settings added later are in the key only when not the default,
        # so the records of before keep their keys
        ramp = f"-r{self.ramp}" if self.ramp != 200 else ""
        eps = f"-eps{self.adam_eps:g}" if self.adam_eps != 1e-8 else ""
        scores = (f"-scores_{self.score_init}"
                  if self.score_init != "kaiming_uniform" else "")
        scores += f"-rescale_{self.rescale}" if self.rescale else ""
        scores += f"-head_{self.head}" if self.head else ""
        scores += "-learnscale" if self.learn_scale else ""
        scores += f"-coats{self.coats}" if self.coats != 1 else ""
        scores += f"-cw{self.coat_width:g}" if self.coat_width else ""
        scores += f"-iterand_{self.iterand}" if self.iterand else ""
        scores += f"-R{self.restarts}" if self.restarts != 1 else ""
        scores += f"-drop{self.dropout:g}" if self.dropout else ""
        scores += f"-ls{self.smoothing:g}" if self.smoothing else ""
        scores += (f"-idrop{self.input_dropout:g}" if self.input_dropout
                   else "")
        scores += f"-wd{self.score_decay:g}" if self.score_decay else ""
        scores += f"-avg{self.average:g}" if self.average else ""
        scores += f"-late_lr{self.late_lr:g}" if self.late_lr != 1 else ""
        scores += f"-sel_{self.select_on}" if self.select_on else ""
        scores += f"-by_{self.select_by}" if self.select_by else ""
        scores += "-denseatt" if self.dense_attention else ""
        scores += "-tfreeze" if self.freeze_temperature else ""
        scores += (f"-adrop{self.attention_dropout:g}"
                   if self.attention_dropout else "")
        scores += "-signs" if self.signs else ""
        scores += f"-edrop{self.edge_dropout:g}" if self.edge_dropout else ""
        scores += f"-snoise{self.score_noise:g}" if self.score_noise else ""
        scores += (f"-cratio{self.coat_ratio:g}" if self.coat_ratio != 1.0
                   else "")
        return (f"{self.dataset}-{self.model}-L{self.layers}-W{self.hidden}-"
                f"{self.method}-{sparsity}-e{self.epochs}{ramp}-lr{self.lr:g}"
                f"{eps}-{self.weight_init}{scores}{variant}-seed{self.seed}")


def grid(datasets: Iterable[str], models: Iterable[str],
         layers: Iterable[int], hidden: int, methods: Iterable[str],
         sparsities: Iterable[float], seeds: Iterable[int],
         **kwargs) -> List[Config]:
    out = []
    for d in datasets:
        for m in models:
            for n in layers:
                for method in methods:
                    levels = [0.0] if method == "dense" else sparsities
                    for s in levels:
                        for seed in seeds:
                            # the dense baseline keeps standard training
                            extra = dict(kwargs)
                            if method == "dense":
                                extra.update(lr=0.01, adam_eps=1e-8)
                            out.append(Config(d, m, n, hidden, method, s,
                                              seed, **extra))
    return out


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.config")
