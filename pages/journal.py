"""Journal (administrateurs) : qui a fait quoi et quand, filtré, exportable."""
import datetime as dt

import streamlit as st

from perr_metrics.acces import journal
from perr_metrics import ui

ui.garde_page("consulter_journal")
st.title("Journal")
st.caption("Connexions (réussies ou non), dépôts (acceptés ou refusés), revues, imports, comptes, états "
           "d'engagements, publication, sauvegardes, et les opérations refusées faute de droits.")
TOUS = "tous"
with ui.protections():
    g, m, d, e = st.columns([2, 2, 2, 1])
    periode = g.date_input("Période", value=(dt.date.today() - dt.timedelta(days=30), dt.date.today()),
                           format="DD/MM/YYYY", key="journal_periode")
    action = m.selectbox("Action", [TOUS, *journal.ACTIONS], key="journal_action",
                         format_func=lambda a: "Toutes" if a == TOUS else a)
    compte = d.text_input("Compte (identifiant)", key="journal_compte")
    resultat = e.selectbox("Résultat", [TOUS, journal.REUSSI, journal.ECHOUE, journal.REFUSE], key="journal_resultat",
                           format_func=lambda r: "Tous" if r == TOUS else r)
    debut, fin = (periode + (None,))[:2] if isinstance(periode, tuple) else (periode, periode)
    df = journal.lire_journal(ui.store(), debut=debut, fin=fin or debut, compte=compte.strip().lower() or None,
                              action=None if action == TOUS else action,
                              resultat=None if resultat == TOUS else resultat)
    st.markdown(f"**{ui.nombre(len(df))}** ligne{'s' if len(df) > 1 else ''}"
                + (" (les 5 000 plus récentes)" if len(df) == 5000 else ""))
    vue = df.assign(quand=df["horodatage"].map(ui.date_heure_texte))
    ui.tableau(vue, {"quand": "Date et heure", "compte": "Compte", "nom": "Nom", "role": "Rôle", "action": "Action",
                     "resultat": "Résultat", "protocole": "Protocole", "objet": "Objet", "detail": "Détail"},
               larges=("detail",), height=520)
    export = df.rename(columns={"horodatage": "Date et heure", "compte": "Compte", "nom": "Nom", "role": "Rôle",
                                "action": "Action", "resultat": "Résultat", "protocole": "Protocole",
                                "objet": "Objet", "detail": "Détail"}).drop(columns="id")
    ui.telechargements(export, f"journal-{debut}-{fin or debut}")
