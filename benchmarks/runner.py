"""One run of the reproduction suite (a :class:`benchmarks.experiments.
Config`) and the resumable runner of many: the protocol is
``python -m benchmarks.reproduce``'s."""
from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch

from benchmarks.data import ADJACENCY_NAMES, config_graph, fast_adjacency
from benchmarks.experiments import MAD_EVERY, MAD_MIN_LAYERS, TSNE_SEED, Config
from benchmarks.hooks import (even_validation, iterand_setting,
                              last_hidden_tsne,
                              ood_scores, per_layer_mad, rerandomize,
                              validation_halves)
from benchmarks.models import build
from benchmarks.records import claim, device_name, record_done, write_record
from benchmarks.search_settings import (ATTENTION, coat_levels,
                                        freeze_temperature, late_lr,
                                        optimizer_groups, score_noise,
                                        sparsifier_for)
from benchmarks.train import train_dense
from torch_geometric_ugt import (BestTicket, SupermaskSparsifier, __version__,
                                 restart_seed, supermask)
from torch_geometric_ugt.search import (Evaluate, SearchResult, TrainEpoch,
                                        full_batch, search_ticket)


class Run:
    """One configuration: its data, model(s), hooks and record."""

    def __init__(self, cfg: Config, root: Optional[str],
                 device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.data = config_graph(cfg, root)
        if device.type != "cpu":
            self.data = self.data.clone().to(device)  # the cache stays
        self.task, self.num_classes = self.data, self.data.num_classes
        if cfg.variant == "ood":
            # train, select and test on the in-distribution classes only
            self.task = self.data.clone()
            self.task.y = self.data.y_id
            self.task.test_mask = self.data.test_mask & ~self.data.ood_mask
            self.num_classes = self.data.num_id_classes
        self.sparsifier: Optional[SupermaskSparsifier] = None
        self.curve: Dict[str, List[float]] = {}
        self.ood: Dict[str, float] = {"val": -1.0}
        self.halves: List[float] = []
        self.hooks: List[Callable[[int, SearchResult], None]] = []
        if cfg.iterand:
            self.hooks.append(self.rerandomize)
        if cfg.layers >= MAD_MIN_LAYERS:
            self.hooks.append(self.layer_mad)
        if cfg.variant == "ood":
            self.hooks.append(self.ood_detection)
        self.model = self.new_model(cfg.seed)

    def new_model(self, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build(self.cfg.model, self.data.num_features, self.cfg.hidden,
                     self.cfg.layers, self.num_classes,
                     dense=self.cfg.method == "dense", head=self.cfg.head,
                     dropout=self.cfg.dropout,
                     input_dropout=self.cfg.input_dropout,
                     attention_dropout=self.cfg.attention_dropout,
                     edge_dropout=self.cfg.edge_dropout)

    def on_epoch(self, epoch: int, result: SearchResult) -> None:
        for hook in self.hooks:
            hook(epoch, result)

    def evaluated(self, fn: Callable[[], object]) -> object:
        # fn() on the model as it is evaluated: tickets at the final sparsity
        if self.sparsifier is None:
            return fn()
        with self.sparsifier.at_sparsity():
            return fn()

    def layer_mad(self, epoch: int, result: SearchResult) -> None:
        # MAD of every layer's output (all nodes), at the final sparsity
        if epoch % MAD_EVERY and epoch != self.cfg.epochs - 1:
            return
        self.curve[str(epoch)] = self.evaluated(  # type: ignore[assignment]
            lambda: per_layer_mad(self.model, self.task))
        self.model.train()

    def ood_detection(self, epoch: int, result: SearchResult) -> None:
        # OOD ROC-AUC at the best validation epoch, computed when an epoch
        # becomes the best one
        if result.best_epoch == epoch:
            self.ood = self.evaluated(  # type: ignore[assignment]
                lambda: ood_scores(self.model, self.task, self.data))
            self.ood["epoch"] = epoch

    def rerandomize(self, epoch: int, result: SearchResult) -> None:
        period, share = iterand_setting(self.cfg.iterand)
        if (epoch + 1) % period == 0:
            rerandomize(self.model, share, self.cfg.weight_init,
                        self.cfg.seed, epoch)

    def train_dense(self) -> SearchResult:
        self.model.to(self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr,
                                     weight_decay=5e-4, eps=self.cfg.adam_eps)
        train, evaluate = self.epoch_functions(optimizer)
        if self.cfg.select_on:
            self.hooks.append(self.selected_halves)
        return train_dense(self.model, self.task, optimizer, self.cfg.epochs,
                           on_epoch=self.on_epoch if self.hooks else None,
                           train=train, evaluate=evaluate,
                           select=self.select())

    def epoch_functions(self, optimizer: torch.optim.Optimizer,
                        label_smoothing: float = 0.0
                        ) -> Tuple[TrainEpoch, Evaluate]:
        """One full-batch step on the task and its evaluation, on the
        even validation nodes only when :obj:`cfg.select_on` says so (the
        epoch is then chosen there)."""
        train, evaluate = full_batch(self.model, self.task, optimizer,
                                     label_smoothing=label_smoothing)
        if self.cfg.select_on:
            _, evaluate = full_batch(self.model, even_validation(self.task),
                                     optimizer)
        return train, evaluate

    def select(self) -> str:
        """What chooses the epoch (``search_ticket``'s ``select``)."""
        return self.cfg.select_by or "accuracy"

    def selected_halves(self, epoch: int, result: SearchResult) -> None:
        # the validation halves of the epoch kept (standard training
        # keeps no state: they are read when an epoch becomes the best)
        if result.best_epoch == epoch:
            self.halves = validation_halves(self.model, self.task)

    def search_once(self, seed: int, log_every: int) -> SearchResult:
        # weights and scores drawn on the CPU (seeded), then moved
        cfg = self.cfg
        supermask(self.model, seed=seed, weight_init=cfg.weight_init,
                  score_init=cfg.score_init, learn_scale=cfg.learn_scale,
                  exclude=ATTENTION if cfg.dense_attention else None)
        if cfg.coat_ratio != 1.0:
            coat_levels(self.model, cfg.coats_in_force(), cfg.coat_ratio)
        self.model.to(self.device)
        optimizer = torch.optim.Adam(optimizer_groups(self.model, cfg),
                                     lr=cfg.lr, eps=cfg.adam_eps)
        self.sparsifier = sparsifier_for(cfg, self.model, optimizer)
        train, evaluate = self.epoch_functions(optimizer, cfg.smoothing)
        if cfg.late_lr != 1.0:
            train = late_lr(train, optimizer, cfg.ramp, cfg.late_lr)
        if cfg.freeze_temperature:
            train = freeze_temperature(train, self.model, cfg.ramp)
        if cfg.score_noise:
            train = score_noise(train, self.model, optimizer,
                                cfg.score_noise, seed)
        result = search_ticket(self.model, self.task, optimizer,
                               self.sparsifier, cfg.epochs,
                               log_every=log_every, train=train,
                               evaluate=evaluate, average=cfg.average,
                               select=self.select(),
                               on_epoch=self.on_epoch if self.hooks else None)
        self.sparsifier = None  # the selected ticket from here
        return result

    def search(self, record: Dict, log_every: int) -> SearchResult:
        """The best of the configuration's restarts by validation."""
        best, runs, spent = BestTicket(), [], 0
        for restart in range(self.cfg.restarts):
            seed = restart_seed(self.cfg.seed, restart)
            if restart:  # a new network (the first one is built already)
                self.model, self.curve = self.new_model(seed), {}
            result = self.search_once(seed, log_every)
            runs.append(dict(seed=seed, val_acc=result.val_acc,
                             test_acc=result.test_acc,
                             best_epoch=result.best_epoch,
                             val_halves=validation_halves(self.model,
                                                          self.task)))
            spent += result.epochs
            if self.cfg.restarts > 1:  # (IteRand's weights make no ticket)
                best.consider(self.model, result.val_acc,
                              epochs=result.epochs, result=result,
                              curve=self.curve)
        if self.cfg.restarts > 1:  # the best restart's ticket, anew
            self.model = best.load(self.new_model(self.cfg.seed))
            self.model.to(self.device)
            result, self.curve = best.info["result"], best.info["curve"]
        record.update(realised_sparsity=result.realised_sparsity,
                      layer_sparsities=result.layer_sparsities,
                      restarts=runs, best_restart=best.best_search or 0,
                      search_epochs=spent)
        return result

    def extras(self, record: Dict, result: SearchResult) -> None:
        """MAD and t-SNE of the selected model, OOD detection."""
        cfg, task = self.cfg, self.task
        if self.layer_mad in self.hooks:
            record["mad_per_layer"] = per_layer_mad(self.model, task)
            record["mad_curve"] = self.curve
            if cfg.seed == TSNE_SEED:
                record["tsne_last_hidden"] = last_hidden_tsne(
                    self.model, task, cfg.seed)
        if cfg.variant == "ood":
            # the scores must come from the selected state: the validation
            # accuracy the selection saw (up to two validation nodes, for
            # non-deterministic GPU sums) at the selected epoch
            flipped = (abs(self.ood["val"] - result.val_acc)
                       * int(task.val_mask.sum()))
            if self.ood.get("epoch") != result.best_epoch or flipped > 2.5:
                raise RuntimeError("internal error: OOD scores were taken "
                                   "at another epoch or state than the "
                                   "selected one")
            record.update(ood_classes=self.data.ood_classes.tolist(),
                          ood_auroc_max_softmax=self.ood[
                              "ood_auroc_max_softmax"],
                          ood_auroc_entropy=self.ood["ood_auroc_entropy"])


def run(cfg: Config, root: Optional[str], log_every: int = 0,
        device: Union[str, torch.device] = "cpu") -> Dict:
    """The record of one configuration."""
    start = time.perf_counter()
    job = Run(cfg, root, torch.device(device))
    record: Dict = {}
    if cfg.method == "dense":
        result = job.train_dense()
        record["search_epochs"] = result.epochs
        if cfg.select_on:  # laid out as a search's, for the same readers
            record["restarts"] = [dict(
                seed=cfg.seed, val_acc=result.val_acc,
                test_acc=result.test_acc, best_epoch=result.best_epoch,
                val_halves=job.halves)]
    else:
        result = job.search(record, log_every)
    job.extras(record, result)
    record.update(
        config=asdict(cfg), key=cfg.key(), library=__version__,
        torch=torch.__version__, device=device_name(job.device),
        threads=torch.get_num_threads(), machine=platform.machine(),
        adjacency=ADJACENCY_NAMES[fast_adjacency()],
        features=("csr" if job.data.x.layout == torch.sparse_csr
                  else "dense"),
        recipe=cfg.recipe, test_acc=result.test_acc, val_acc=result.val_acc,
        val_loss=(result.val_loss if math.isfinite(result.val_loss)
                  else None), best_epoch=result.best_epoch,
        curve=result.curve,
        epoch_time_s=result.epoch_time,
        total_time_s=time.perf_counter() - start)
    return record


def run_all(configs: List[Config], root: Optional[str], out: Path,
            progress: bool = True, log_every: int = 0,
            device: Union[str, torch.device] = "cpu") -> List[Dict]:
    out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in configs if not record_done(out / f"{c.key()}.json")]
    print(f"{len(configs) - len(todo)} of {len(configs)} records exist; "
          f"running {len(todo)}", flush=True)
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), unit="run")
        except ImportError:
            bar = None
    records = []
    for cfg in todo:
        path = out / f"{cfg.key()}.json"
        with claim(path) as mine:
            if mine:
                record = run(cfg, root, log_every, device)
                write_record(path, record)
        if not mine:  # another runner made it or is making it
            if bar is not None:
                bar.update(1)
            continue
        records.append(record)
        msg = (f"{cfg.key()}: test {100 * record['test_acc']:.1f} "
               f"(val {100 * record['val_acc']:.1f})")
        if bar is not None:
            bar.update(1)
            bar.write(msg)
        else:
            print(msg, flush=True)
    if bar is not None:
        bar.close()
    return records


if __name__ == "__main__":
    from benchmarks import cli
    cli.library(__doc__, "benchmarks.runner")
