"""Les erreurs devant l'utilisateur : jamais de trace Python à l'écran. `protections()` entoure le travail de chaque
page et change toute exception en message français ; la trace va au journal du serveur."""
from __future__ import annotations

import logging
import traceback
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from perr_metrics.acces.comptes import CompteRefuse, ConnexionRefusee
from perr_metrics.acces.droits import AccesRefuse
from perr_metrics.referentiel import requetes
from perr_metrics.stockage.magasin import BaseOccupee, ErreurBase

_log = logging.getLogger("perr_metrics.ui")


@contextmanager
def protections():
    """Transforme toute exception en message français ; la trace va au journal du serveur, pas à l'écran."""
    try:
        yield
    except (StopException, RerunException):  # la mécanique de Streamlit (st.stop, st.rerun) doit passer
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
        _log.error("Erreur inattendue : %s", traceback.format_exc())
        st.error("Une erreur inattendue est survenue ; elle a été consignée dans le journal du serveur. "
                 "Rechargez la page ; si elle se reproduit, signalez-la à l'équipe de coordination.")
