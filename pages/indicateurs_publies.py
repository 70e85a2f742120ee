"""Indicateurs publiés : la vue publique, ouverte sans compte quand la coordination l'a décidé."""
import streamlit as st

from perr_metrics.pilotage import publication
from perr_metrics import ui

ui.garde_page("consulter_publication")
st.title("Indicateurs publiés")
with ui.protections():
    protocoles = ui.lire(publication.protocoles_publics)
    if protocoles.empty:
        st.info("Aucun indicateur n'est publié pour l'instant.")
        st.stop()
    noms = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin}" for r in protocoles.itertuples()}
    code = ui._synchro("protocole", list(noms), noms.get, "Protocole")
    p = protocoles.set_index("code").loc[code].to_dict() | {"code": code}
    ui.bandeau_demonstration(p)
    periode = ui.choisir_periode(p)
    territoire, quartiers = ui.lire(publication.situation_publique, code, periode)
    st.subheader(f"Le territoire en {periode}")
    vue = territoire.assign(valeur_txt=[ui.valeur_texte(v, u) for v, u in zip(territoire["valeur"],
                                                                               territoire["unite"])],
                            cible_txt=[ui.valeur_texte(v, u) for v, u in zip(territoire["cible_finale"],
                                                                              territoire["unite"])])
    ui.tableau(vue, {"libelle": "Indicateur", "valeur_txt": "Valeur", "cible_txt": "Cible", "annee_cible": "En",
                     "statut": "Statut", "explication": "Explication"}, larges=("libelle", "explication"))
    if not quartiers.empty:
        st.subheader("Par quartier")
        vue = quartiers.assign(valeur_txt=[ui.valeur_texte(v, u) for v, u in zip(quartiers["valeur"],
                                                                                  quartiers["unite"])])
        ui.tableau(vue, {"perimetre_libelle": "Quartier", "libelle": "Indicateur", "valeur_txt": "Valeur",
                         "statut": "Statut", "explication": "Explication"}, larges=("libelle", "explication"))
    ui.telechargements(territoire, f"indicateurs-publies-{code}-{periode}")
