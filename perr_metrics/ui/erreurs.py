"""Les erreurs devant l'utilisateur : jamais de trace Python à l'écran. `protections()` entoure le travail de chaque
page (et, dans dashboard.py, la navigation et l'exécution de la page entière) et change toute exception en message
français. Une erreur inattendue est signalée au journal du serveur (trace, page, compte) sous une référence que le
message donne à l'utilisateur : il peut la citer, on retrouve la trace.

Streamlit, de son côté, n'affiche aucun détail d'une erreur qui lui échapperait (`client.showErrorDetails = "none"`
dans .streamlit/config.toml)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner import RerunException, StopException

from perr_metrics.acces import incidents
from perr_metrics.acces.comptes import CompteRefuse, ConnexionRefusee
from perr_metrics.acces.droits import AccesRefuse
from perr_metrics.referentiel import requetes
from perr_metrics.stockage.magasin import BaseOccupee, ErreurBase
from perr_metrics.ui.magasin import _CLE, store

_log = logging.getLogger("perr_metrics.ui")


def message_inattendu(reference: str) -> str:
    """Ce que voit l'utilisateur d'une erreur inattendue : ce qui s'est passé, que rien n'a été enregistré (chaque
    écriture du cœur est une transaction, annulée entière par l'erreur), et la référence à transmettre."""
    return (f"Une erreur inattendue est survenue (référence {reference}) : rien n'a été enregistré. "
            "Transmettez cette référence à la coordination.")


def _signaler(exc: BaseException, contexte: str) -> str:
    """Consigne une erreur inattendue (`perr_metrics.acces.incidents.signaler` : trace complète dans le journal des
    erreurs, ligne « erreur inattendue » au journal de la base quand elle peut être écrite) et au journal du serveur
    (logging), sous la même référence `E-AAAAMMJJ-xxxxxx`, qu'elle renvoie."""
    try:
        magasin = store()
    except Exception:  # noqa: BLE001 - la base est peut-être la cause : le fichier des erreurs suffit
        magasin = None
    reference = incidents.signaler(magasin, exc, contexte)
    _log.error("Erreur inattendue %s (%s)", reference, contexte, exc_info=exc)
    return reference


def _contexte() -> str:
    """La page en cours et le compte connecté, pour le journal du serveur ; lu sans toucher à la base (elle est
    peut-être la cause de l'erreur), et sans jamais échouer."""
    page = compte = "?"
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        if ctx is not None:
            info = ctx.pages_manager.get_pages().get(ctx.page_script_hash) or {}
            page = Path(info.get("script_path") or ctx.main_script_path).name
    except Exception:  # noqa: BLE001 - le contexte ne doit jamais cacher l'erreur
        pass
    try:
        session = st.session_state.get(_CLE)
        compte = session["compte"] if session else "personne (non connecté)"
    except Exception:  # noqa: BLE001
        pass
    return f"page {page}, compte {compte}"


@contextmanager
def protections():
    """Transforme toute exception en message français ; la trace va au journal du serveur, pas à l'écran.

    Les erreurs attendues du cœur (base occupée, protocole inconnu, droit refusé, compte refusé, base inutilisable)
    gardent leur propre message ; toute autre est signalée (`_signaler`) et l'utilisateur en reçoit la référence.
    La mécanique de Streamlit (st.stop, st.rerun, st.switch_page, fragments) passe sans être touchée."""
    try:
        yield
    except (StopException, RerunException, FragmentHandledException):
        raise
    except BaseOccupee as exc:
        st.warning(str(exc))
    except requetes.ProtocoleInconnu as exc:
        st.warning(str(exc))
    except AccesRefuse as exc:
        st.error(str(exc), icon=":material/block:")
    except (CompteRefuse, ConnexionRefusee) as exc:
        st.error(str(exc))
    except ErreurBase as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - c'est précisément le filet
        try:
            reference = _signaler(exc, _contexte())
        except Exception:  # noqa: BLE001 - un journal en panne ne doit pas montrer de trace à l'écran
            reference = "non consignée"
        st.error(message_inattendu(reference), icon=":material/error:")
