"""Les droits, appliqués par le cœur : chaque opération × chaque rôle (la matrice), la limite d'un contributeur à son
signataire, et la complétude (toute fonction publique du cœur qui reçoit le magasin est une opération marquée)."""
from __future__ import annotations

import importlib
import inspect
import io
import json
import pkgutil
import tempfile
from pathlib import Path

import pytest

import perr_metrics
from perr_metrics import rapport
from perr_metrics.acces import comptes, droits, journal, sauvegarde
from perr_metrics.demo import demonstration as demo
from perr_metrics.demo import nationale as demo_nationale
from perr_metrics.depots import depot as depots
from perr_metrics.depots import echeances, motifs, relances
from perr_metrics.depots import modele as modele_depot
from perr_metrics.pilotage import avancement, geo, partenaire, publication, suivi, vues
from perr_metrics.rapport import contenu as contenu_rapport
from perr_metrics.rapport import textes as textes_rapport
from perr_metrics.referentiel import apercu as apercu_referentiel
from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.referentiel import requetes
from perr_metrics.demo.demonstration import DOSSIER_DEMO
from perr_metrics.acces.droits import AccesRefuse, Utilisateur
from perr_metrics.commun.erreurs import Rapport
from perr_metrics.stockage.magasin import Store
from tests.conftest import copie_de_base

TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"

ROLES = {
    "administrateur": Utilisateur("coordination", "Équipe de coordination (démo)", "administrateur"),
    "lecteur": Utilisateur("copil", "Membre du COPIL (démo)", "lecteur"),
    "contributeur": Utilisateur("caf-aube", "CAF de l'Aube (démo)", "contributeur", TCM, "CAF10"),
    "public": droits.VISITEUR,
}

# Tous les modules du cœur, sous-paquets compris, importés : le registre des opérations est alors complet.
MODULES = [importlib.import_module(m.name) for m in pkgutil.walk_packages(perr_metrics.__path__, "perr_metrics.")
           if m.name != "perr_metrics.__main__"]


def _contexte(s):
    """Des identifiants réels de la démonstration : un dépôt et un engagement de la CAF, un dépôt de la DDSP, un
    engagement que la CAF ne porte pas, un quartier."""
    def lire(con):
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return dict(
            depot_caf=q(f"SELECT min(id) FROM depot WHERE protocole = '{TCM}' AND signataire = 'CAF10'"),
            depot_ddsp=q(f"SELECT min(id) FROM depot WHERE protocole = '{TCM}' AND signataire = 'ETAT-DDSP'"),
            eng_caf=q(f"SELECT min(engagement) FROM engagement_porteur WHERE protocole = '{TCM}' "
                      "AND signataire = 'CAF10'"),
            eng_autre=q(f"SELECT min(engagement) FROM engagement_porteur WHERE protocole = '{TCM}' AND engagement "
                        f"NOT IN (SELECT engagement FROM engagement_porteur WHERE protocole = '{TCM}' "
                        "AND signataire = 'CAF10')"),
            qpv=q(f"SELECT min(code) FROM perimetre WHERE protocole = '{TCM}' AND niveau = 'QPV'"),
        )
    return s.lire(lire)


def _csv_caf(s) -> bytes:
    """Un dépôt valide de la CAF : ses valeurs 2021 telles qu'en base, légèrement changées."""
    df = s.requete(f"""SELECT v.indicateur, v.perimetre, v.periode, v.valeur FROM ({depots.SQL_VALEURS_COURANTES}) v
                       JOIN indicateur i ON i.protocole = ? AND i.code = v.indicateur
                       WHERE i.signataire = 'CAF10' AND v.annee = 2021""", [TCM, TCM])
    lignes = ["indicateur;perimetre;periode;valeur"] + [
        f"{r.indicateur};{r.perimetre};{r.periode};{str(round(r.valeur * 1.01, 1)).replace('.', ',')}"
        for r in df.itertuples()]
    return "\n".join(lignes).encode()


GEOJSON = json.dumps({"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"code_qp": "QN01001M", "lib_qp": "Quartier d'essai"},
    "geometry": {"type": "Polygon", "coordinates": [[[4.07, 48.29], [4.08, 48.29], [4.08, 48.3], [4.07, 48.29]]]}}]
}).encode()

# Opération → (appel sur le magasin `s` et le contexte `c`, écrit-elle ?). Les opérations limitées au signataire y
# sont appelées pour la CAF de l'Aube, celle du contributeur.
CAS = {
    requetes.protocoles: (lambda s, c: requetes.protocoles(s), False),
    requetes.protocole: (lambda s, c: requetes.protocole(s, TCM), False),
    requetes.signataires: (lambda s, c: requetes.signataires(s, TCM), False),
    requetes.indicateurs: (lambda s, c: requetes.indicateurs(s, TCM), False),
    requetes.arbre: (lambda s, c: requetes.arbre(s, TCM), False),
    requetes.engagements: (lambda s, c: requetes.engagements(s, TCM), False),
    requetes.perimetres: (lambda s, c: requetes.perimetres(s, TCM), False),
    requetes.contrats: (lambda s, c: requetes.contrats(s, TCM), False),
    requetes.cadres_du_protocole: (lambda s, c: requetes.cadres_du_protocole(s, TCM), False),
    requetes.nombre_de_valeurs: (lambda s, c: requetes.nombre_de_valeurs(s, TCM), False),
    requetes.niveaux: (lambda s, c: requetes.niveaux(s, TCM), False),
    requetes.natures: (lambda s, c: requetes.natures(s, TCM), False),
    requetes.volets: (lambda s, c: requetes.volets(s, TCM), False),
    requetes.signatures: (lambda s, c: requetes.signatures(s, TCM), False),
    requetes.rattachements_du_quartier: (lambda s, c: requetes.rattachements_du_quartier(s, TCM, "QN01001I"), False),
    referentiel.donnees_protocole: (lambda s, c: referentiel.donnees_protocole(s, TCM), False),
    referentiel.exporter_referentiel: (lambda s, c: referentiel.exporter_referentiel(s, TCM, io.BytesIO()), False),
    apercu_referentiel.apercu_import: (lambda s, c: apercu_referentiel.apercu_import(s, DOSSIER_DEMO / "troyes"),
                                       False),
    referentiel.importer_referentiel: (lambda s, c: referentiel.importer_referentiel(s, DOSSIER_DEMO / "troyes"),
                                       True),
    avancement.indicateurs_au_perimetre: (lambda s, c: avancement.indicateurs_au_perimetre(s, TCM, "2021"), False),
    avancement.indicateurs_au_territoire: (lambda s, c: avancement.indicateurs_au_territoire(s, TCM, "2021"), False),
    avancement.indicateurs_au_perimetre_par_periode: (
        lambda s, c: avancement.indicateurs_au_perimetre_par_periode(s, TCM, ["2020", "2021"]), False),
    avancement.indicateurs_au_territoire_par_periode: (
        lambda s, c: avancement.indicateurs_au_territoire_par_periode(s, TCM, ["2020", "2021"]), False),
    avancement.avancement_par_noeud: (lambda s, c: avancement.avancement_par_noeud(s, TCM, "2021"), False),
    vues.synthese: (lambda s, c: vues.synthese(s, TCM, "2021"), False),
    vues.nouveaux_depots: (lambda s, c: vues.nouveaux_depots(s, TCM, "2021"), False),
    vues.changements: (lambda s, c: vues.changements(s, TCM, "2021"), False),
    vues.etats_des_engagements: (lambda s, c: vues.etats_des_engagements(s, TCM), False),
    vues.arbre_avancement: (lambda s, c: vues.arbre_avancement(s, TCM, "2021"), False),
    vues.indicateurs_mesurant: (lambda s, c: vues.indicateurs_mesurant(s, TCM), False),
    vues.indicateurs_du_noeud: (lambda s, c: vues.indicateurs_du_noeud(s, TCM, "2021"), False),
    vues.fiche_indicateur: (lambda s, c: vues.fiche_indicateur(s, TCM, "SEC-VIDEO"), False),
    vues.references_et_cibles: (lambda s, c: vues.references_et_cibles(s, TCM), False),
    vues.serie_indicateur: (lambda s, c: vues.serie_indicateur(s, TCM, "SEC-VIDEO"), False),
    vues.provenance: (lambda s, c: vues.provenance(s, TCM, "SEC-VIDEO"), False),
    vues.situation: (lambda s, c: vues.situation(s, TCM, "2021", "SEC-VIDEO"), False),
    geo.etat_contours: (lambda s, c: geo.etat_contours(s), False),
    geo.couverture: (lambda s, c: geo.couverture(s), False),
    geo.contours_du_protocole: (lambda s, c: geo.contours_du_protocole(s, TCM), False),
    geo.valeurs_par_quartier: (lambda s, c: geo.valeurs_par_quartier(s, TCM, "2021", "SEC-VIDEO"), False),
    geo.comparaison_quartier: (lambda s, c: geo.comparaison_quartier(s, TCM, "2021", c["qpv"]), False),
    geo.importer_contours: (lambda s, c: geo.importer_contours(s, GEOJSON, "essai.geojson"), True),
    depots.valeurs_courantes: (lambda s, c: depots.valeurs_courantes(s, TCM), False),
    depots.historique: (lambda s, c: depots.historique(s, TCM, "SEC-VIDEO"), False),
    depots.completude: (lambda s, c: depots.completude(s, TCM, "2021"), False),
    depots.liste_depots: (lambda s, c: depots.liste_depots(s, TCM, "CAF10"), False),
    depots.fichier_du_depot: (lambda s, c: depots.fichier_du_depot(s, c["depot_caf"]), False),
    depots.deposer: (lambda s, c: depots.deposer(s, c["csv_caf"], "caf.csv", protocole=TCM, signataire="CAF10",
                                                 accepter_avertissements=True), True),
    depots.revoir_depot: (lambda s, c: depots.revoir_depot(s, c["depot_caf"], "validé"), True),
    depots.detail_depot: (lambda s, c: depots.detail_depot(s, c["depot_caf"]), False),
    depots.depots_en_attente: (lambda s, c: depots.depots_en_attente(s, TCM), False),
    partenaire.espace_partenaire: (lambda s, c: partenaire.espace_partenaire(s, TCM, "CAF10", "2021"), False),
    modele_depot.lignes_du_modele: (lambda s, c: modele_depot.lignes_du_modele(s, TCM, "CAF10", "2022"), False),
    modele_depot.ecrire_modele_depot: (
        lambda s, c: modele_depot.ecrire_modele_depot(s, TCM, "CAF10", "2022", io.BytesIO()), False),
    echeances.echeance: (lambda s, c: echeances.echeance(s, TCM, "2022"), False),
    motifs.motifs_courants: (lambda s, c: motifs.motifs_courants(s, TCM, 2022), False),
    relances.preparer_relances: (lambda s, c: relances.preparer_relances(s, TCM, "2022"), False),
    relances.envoyer_relances: (
        lambda s, c: relances.envoyer_relances(s, relances.preparer_relances(s, TCM, "2022"), None), False),
    relances.relances_en_eml: (
        lambda s, c: relances.relances_en_eml(s, relances.preparer_relances(s, TCM, "2022", signataires=["CAF10"])),
        False),
    relances.demander_avis_depots: (lambda s, c: relances.demander_avis_depots(s, True), True),
    relances.avis_depots_demande: (lambda s, c: relances.avis_depots_demande(s), False),
    relances.accuser_reception: (lambda s, c: relances.accuser_reception(
        s, depots.ResultatDepot("rejete", Rapport()), None, protocole=TCM, signataire="CAF10"), False),
    relances.courriels_envoyes: (lambda s, c: relances.courriels_envoyes(s, TCM), False),
    # (confirmer_recul : l'engagement de la démonstration peut être déjà « réalisé » ; c'est le droit qu'on essaie)
    suivi.enregistrer_etat: (lambda s, c: suivi.enregistrer_etat(s, TCM, c["eng_caf"], "en cours", "2021-05-01",
                                                                 None, confirmer_recul=True), True),
    suivi.etats_courants: (lambda s, c: suivi.etats_courants(s, TCM), False),
    suivi.historique_etats: (lambda s, c: suivi.historique_etats(s, TCM, c["eng_caf"]), False),
    suivi.engagements_filtres: (lambda s, c: suivi.engagements_filtres(s, TCM), False),
    suivi.engagements_par_signataire: (lambda s, c: suivi.engagements_par_signataire(s, TCM), False),
    suivi.bilan_signataire: (lambda s, c: suivi.bilan_signataire(s, TCM, "CAF10", "2021"), False),
    contenu_rapport.construire_rapport: (lambda s, c: contenu_rapport.construire_rapport(s, TCM, 2021), False),
    contenu_rapport.apercu: (lambda s, c: contenu_rapport.apercu(s, TCM, 2021), False),
    rapport.generer: (lambda s, c: rapport.generer(s, TCM, 2021, "xlsx", io.BytesIO()), False),
    contenu_rapport.synthese_proposee: (lambda s, c: contenu_rapport.synthese_proposee(s, TCM, 2021), False),
    textes_rapport.enregistrer_texte: (lambda s, c: textes_rapport.enregistrer_texte(s, TCM, 2021, "perspectives",
                                                                                     "Poursuivre."), True),
    textes_rapport.joindre_avis: (lambda s, c: textes_rapport.joindre_avis(s, TCM, 2021, "Conseil citoyen",
                                                                           "2022-03-01", texte="Avis favorable."), True),
    textes_rapport.retirer_avis: (lambda s, c: textes_rapport.retirer_avis(s, TCM, 2021, "Conseil citoyen"), True),
    textes_rapport.textes_du_rapport: (lambda s, c: textes_rapport.textes_du_rapport(s, TCM, 2021), False),
    textes_rapport.historique_textes: (lambda s, c: textes_rapport.historique_textes(s, TCM, 2021), False),
    textes_rapport.fichier_avis: (lambda s, c: textes_rapport.fichier_avis(s, TCM, 1), False),
    demo.charger_demo: (lambda s, c: demo.charger_demo(s), True),
    demo.generer_valeurs: (lambda s, c: demo.generer_valeurs(s, TCM), True),
    demo.generer_etats: (lambda s, c: demo.generer_etats(s, TCM), True),
    demo_nationale.construire: (lambda s, c: demo_nationale.construire(s, "inconnue"), True),
    comptes.creer_compte: (lambda s, c: comptes.creer_compte(s, "nouveau", "Nouveau", "lecteur",
                                                             "un mot de passe long"), True),
    comptes.lister_comptes: (lambda s, c: comptes.lister_comptes(s), False),
    comptes.activer_compte: (lambda s, c: comptes.activer_compte(s, "copil", False), True),
    comptes.modifier_compte: (lambda s, c: comptes.modifier_compte(s, "copil", nom="Autre nom"), True),
    comptes.creer_comptes_demo: (lambda s, c: comptes.creer_comptes_demo(s), True),
    journal.lire_journal: (lambda s, c: journal.lire_journal(s), False),
    publication.ouvrir_vue_publique: (lambda s, c: publication.ouvrir_vue_publique(s, True), True),
    publication.publier: (lambda s, c: publication.publier(s, TCM, ["SEC-VIDEO"]), True),
    publication.protocoles_publics: (lambda s, c: publication.protocoles_publics(s), False),
    publication.indicateurs_publies: (lambda s, c: publication.indicateurs_publies(s, TCM), False),
    publication.situation_publique: (lambda s, c: publication.situation_publique(s, TCM, "2021"), False),
    sauvegarde.sauvegarder: (lambda s, c: sauvegarde.sauvegarder(s, Path(tempfile.mkdtemp()) / "s"), True),
    sauvegarde.restaurer: (lambda s, c: sauvegarde.restaurer(s, sauvegarde.sauvegarder(s, Path(tempfile.mkdtemp()) / "s")),
                           True),
    sauvegarde.copier_vers: (lambda s, c: sauvegarde.copier_vers(
        s, Store(Path(tempfile.mkdtemp()) / "copie.duckdb", utilisateur=droits.SYSTEME)), True),
    sauvegarde.entretenir: (lambda s, c: sauvegarde.entretenir(s), True),
}
# Ce qu'une opération permise peut lever sans que ce soit un refus de droits (l'entrée choisie est refusée).
ATTENDU = {demo_nationale.construire: ValueError, textes_rapport.fichier_avis: KeyError}


def _nom(fn) -> str:
    return f"{fn.__module__}.{fn.__name__}"


@pytest.fixture(scope="module")
def base_matrice(base_demo, tmp_path_factory):
    """La démonstration, vue publique ouverte et un indicateur publié (pour les lectures de la vue publique)."""
    s = copie_de_base(base_demo, tmp_path_factory.mktemp("matrice"))
    publication.ouvrir_vue_publique(s, True)
    publication.publier(s, TCM, ["SEC-VIDEO"])
    return s


@pytest.fixture(scope="module")
def contexte(base_matrice):
    return _contexte(base_matrice) | {"csv_caf": _csv_caf(base_matrice)}


def test_chaque_operation_du_registre_a_son_cas():
    assert set(droits.OPERATIONS) == {_nom(f) for f in CAS}


def test_chaque_fonction_publique_du_coeur_qui_recoit_le_magasin_est_marquee():
    """Ajouter une fonction au cœur sans dire qui peut l'appeler fait échouer ce test."""
    oublis = []
    for module in MODULES:
        if module.__name__.startswith(("perr_metrics.ui", "perr_metrics.stockage")) or \
                module.__name__ == "perr_metrics.acces.droits":
            continue
        for nom, fn in inspect.getmembers(module, inspect.isfunction):
            if nom.startswith("_") or fn.__module__ != module.__name__:
                continue
            params = list(inspect.signature(fn).parameters)
            if params[:1] == ["store"] and not hasattr(fn, "__operation__"):
                oublis.append(f"{module.__name__}.{nom}")
    assert oublis == []


@pytest.mark.parametrize("fn", list(CAS), ids=_nom)
def test_matrice_des_roles(fn, base_matrice, contexte, tmp_path):
    appel, ecrit = CAS[fn]
    action = droits.OPERATIONS[_nom(fn)]
    for role, u in ROLES.items():
        if fn is demo_nationale.construire:
            from perr_metrics.stockage.magasin import Store
            s = Store(tmp_path / f"neuve-{role}.duckdb", utilisateur=u)
        else:
            if ecrit:
                (tmp_path / role).mkdir(exist_ok=True)
            s = (copie_de_base(base_matrice.chemin, tmp_path / role) if ecrit else base_matrice).pour(u)
        if u.peut(action):
            try:
                appel(s, contexte)
            except AccesRefuse as exc:  # pragma: no cover - c'est l'échec du test
                pytest.fail(f"{_nom(fn)} refusé à {role} : {exc}")
            except ATTENDU.get(fn, ()):
                pass
        else:
            with pytest.raises(AccesRefuse) as exc:
                appel(s, contexte)
            assert str(exc.value).startswith("Opération refusée")


# --------------------------------------------------------------------------------------------------------------------
# La portée : plusieurs organisations dans une instance. Chaque opération × des comptes limités à un protocole.
# --------------------------------------------------------------------------------------------------------------------

PORTEES = {
    "administrateur de TCM": Utilisateur("coord.tcm", "Coordination de Troyes", "administrateur", protocoles=[TCM]),
    "administrateur de Blois": Utilisateur("coord.blois", "Coordination de Blois", "administrateur",
                                           protocoles=[BLOIS]),
    "lecteur de Blois": Utilisateur("copil.blois", "COPIL de Blois", "lecteur", protocoles=[BLOIS]),
    "lecteur de TCM et Blois": Utilisateur("copil.deux", "COPIL des deux", "lecteur", protocoles=[TCM, BLOIS]),
}

# Ce que vise chaque cas de CAS : le protocole de Troyes (par défaut), toute l'instance (refusé à tout compte limité),
# ou rien en particulier (permis à tout compte limité qui a le rôle : la lecture est filtrée par sa portée).
INSTANCE = {geo.importer_contours, publication.ouvrir_vue_publique, sauvegarde.sauvegarder, sauvegarde.restaurer,
            sauvegarde.copier_vers, sauvegarde.entretenir,
            demo.charger_demo, demo_nationale.construire, comptes.creer_comptes_demo,
            comptes.activer_compte, comptes.modifier_compte}        # ces deux-là : sur « copil », de toute l'instance
LIBRE = {requetes.protocoles, geo.etat_contours, geo.couverture, comptes.lister_comptes, comptes.creer_compte,
         journal.lire_journal, publication.protocoles_publics, publication.indicateurs_publies,
         publication.situation_publique,
         relances.demander_avis_depots, relances.avis_depots_demande}   # une préférence du compte, d'aucun protocole


def _permis_par_la_portee(fn, u: Utilisateur) -> bool:
    if fn in LIBRE:
        return True
    if fn in INSTANCE:
        return u.portee is None
    return u.couvre(TCM)


def test_les_operations_d_instance_sont_marquees():
    """Les opérations qui valent pour toute l'instance portent `instance=True` (la sauvegarde, les contours nationaux,
    l'ouverture de la vue publique, la démonstration) ; toutes les autres visent un protocole ou filtrent leur
    lecture."""
    marquees = {_nom(f) for f in CAS if getattr(f, "__instance__", False)}
    assert marquees == {_nom(f) for f in INSTANCE - {comptes.activer_compte, comptes.modifier_compte}}


@pytest.mark.parametrize("fn", list(CAS), ids=_nom)
def test_matrice_de_la_portee(fn, base_matrice, contexte, tmp_path):
    """Chaque opération × des comptes limités à un protocole : permise sur le leur, refusée (« Opération refusée »,
    consignée au journal avec le protocole visé) sur un autre et sur toute l'instance."""
    appel, ecrit = CAS[fn]
    action = droits.OPERATIONS[_nom(fn)]
    for nom, u in PORTEES.items():
        if not u.peut(action):
            continue                     # le rôle seul refuse : déjà vu par test_matrice_des_roles
        if fn is demo_nationale.construire:
            from perr_metrics.stockage.magasin import Store
            s = Store(tmp_path / f"neuve-{u.identifiant}.duckdb", utilisateur=u)
        else:
            dossier = tmp_path / u.identifiant
            dossier.mkdir(exist_ok=True)
            s = copie_de_base(base_matrice.chemin, dossier).pour(u)
        if _permis_par_la_portee(fn, u):
            try:
                appel(s, contexte)
            except AccesRefuse as exc:  # pragma: no cover - c'est l'échec du test
                pytest.fail(f"{_nom(fn)} refusé à {nom} : {exc}")
            except ATTENDU.get(fn, ()):
                pass
        else:
            with pytest.raises(AccesRefuse) as exc:
                appel(s, contexte)
            assert str(exc.value).startswith("Opération refusée : votre compte ne couvre que"), str(exc.value)
            if fn is not demo_nationale.construire:
                refus = journal.lire_journal(s.pour(ROLES["administrateur"]), action="accès")
                assert refus.iloc[0]["compte"] == u.identifiant and refus.iloc[0]["resultat"] == "refusé"
                if fn not in INSTANCE:
                    assert refus.iloc[0]["protocole"] == TCM


def test_matrice_des_roles_mot_de_passe(base_demo, tmp_path):
    """Changer le mot de passe d'un autre : l'administrateur seulement ; le sien : chacun, avec l'ancien."""
    s = copie_de_base(base_demo, tmp_path)
    for role in ("lecteur", "contributeur"):
        with pytest.raises(AccesRefuse):
            comptes.changer_mot_de_passe(s.pour(ROLES[role]), "coordination", "un autre mot de passe")
    with pytest.raises(AccesRefuse):
        comptes.changer_mot_de_passe(s.pour(droits.VISITEUR), "copil", "un autre mot de passe")
    comptes.changer_mot_de_passe(s.pour(ROLES["lecteur"]), "copil", "un autre mot de passe", "copil-demo-2024")
    with pytest.raises(comptes.CompteRefuse, match="ancien mot de passe est incorrect"):
        comptes.changer_mot_de_passe(s.pour(ROLES["lecteur"]), "copil", "encore un autre mot", "faux")
    comptes.changer_mot_de_passe(s.pour(ROLES["administrateur"]), "copil", "remis par la coordination")
    assert comptes.authentifier(s, "copil", "remis par la coordination").role == "lecteur"


def test_sans_utilisateur_tout_est_refuse(base_matrice):
    from perr_metrics.stockage.magasin import Store
    with pytest.raises(AccesRefuse, match="aucun utilisateur identifié"):
        requetes.protocoles(Store(base_matrice.chemin))


# --------------------------------------------------------------------------------------------------------------------
# Un contributeur : son signataire et ses services, rien d'autre — même en appelant le cœur directement
# --------------------------------------------------------------------------------------------------------------------

HORS_PERIMETRE = {
    "déposer pour la DDSP": lambda s, c: depots.deposer(s, b"indicateur;perimetre;periode;valeur\n", "x.csv",
                                                        protocole=TCM, signataire="ETAT-DDSP"),
    "déposer dans un autre protocole": lambda s, c: depots.deposer(s, b"x", "x.csv", protocole=BLOIS,
                                                                   signataire="CAF41"),
    "modèle de la DDSP": lambda s, c: modele_depot.ecrire_modele_depot(s, TCM, "ETAT-DDSP", "2022", io.BytesIO()),
    "dépôts de la DDSP": lambda s, c: depots.liste_depots(s, TCM, "ETAT-DDSP"),
    "fichier d'un dépôt de la DDSP": lambda s, c: depots.fichier_du_depot(s, c["depot_ddsp"]),
    "état d'un engagement d'autrui": lambda s, c: suivi.enregistrer_etat(s, TCM, c["eng_autre"], "en cours",
                                                                         "2021-05-01", None),
    "historique d'un engagement d'autrui": lambda s, c: suivi.historique_etats(s, TCM, c["eng_autre"]),
    "espace de la DDSP": lambda s, c: partenaire.espace_partenaire(s, TCM, "ETAT-DDSP", "2022"),
    "détail d'un dépôt de la DDSP": lambda s, c: depots.detail_depot(s, c["depot_ddsp"]),
}


@pytest.mark.parametrize("cas", list(HORS_PERIMETRE))
def test_contributeur_limite_a_son_signataire(cas, base_demo, tmp_path):
    s = copie_de_base(base_demo, tmp_path)
    c = _contexte(s)
    avant = s.requete("SELECT (SELECT count(*) FROM depot) AS d, (SELECT count(*) FROM etat_engagement) AS e")
    with pytest.raises(AccesRefuse, match="rattaché à CAF10 du protocole TCM-PERR-2019"):
        HORS_PERIMETRE[cas](s.pour(ROLES["contributeur"]), c)
    assert s.requete("SELECT (SELECT count(*) FROM depot) AS d, "
                     "(SELECT count(*) FROM etat_engagement) AS e").equals(avant)
    refus = journal.lire_journal(s, action="accès")
    assert refus.iloc[0]["compte"] == "caf-aube" and refus.iloc[0]["resultat"] == "refusé"


def test_contributeur_ne_lit_que_ce_qui_est_a_lui(base_demo, tmp_path):
    s = copie_de_base(base_demo, tmp_path)
    caf = s.pour(ROLES["contributeur"])
    assert set(depots.liste_depots(caf, TCM)["signataire"]) == {"CAF10"}
    assert len(depots.liste_depots(s, TCM)) > len(depots.liste_depots(caf, TCM))
    assert set(depots.completude(caf, TCM, "2021").par_signataire["signataire"]) == {"CAF10"}
    siens = suivi.etats_courants(caf, TCM)
    assert len(siens) and all("CAF10" in p.split(";") for p in siens["porteurs"])
    assert len(suivi.etats_courants(s, TCM)) == 147
    with pytest.raises(AccesRefuse, match="rattaché à CAF10 du protocole TCM-PERR-2019"):
        depots.liste_depots(caf, BLOIS)            # un autre protocole : refusé, plus seulement vide


def test_le_contributeur_d_un_signataire_agit_pour_ses_services(base_demo, tmp_path):
    """Rattaché à l'État, un contributeur dépose aussi pour la DDSP (un service de l'État) ; rattaché à la DDSP, il
    ne dépose pas pour l'État."""
    s = copie_de_base(base_demo, tmp_path)
    etat = s.pour(Utilisateur("prefecture", "Préfecture", "contributeur", TCM, "ETAT"))
    assert len(modele_depot.lignes_du_modele(etat, TCM, "ETAT-DDSP", "2022")[1]) > 0
    ddsp = s.pour(Utilisateur("ddsp", "DDSP", "contributeur", TCM, "ETAT-DDSP"))
    with pytest.raises(AccesRefuse):
        modele_depot.lignes_du_modele(ddsp, TCM, "ETAT", "2022")


def test_la_ligne_de_commande_refuse_au_contributeur_un_autre_signataire(base_demo, tmp_path, capsys, monkeypatch):
    from perr_metrics.cli import main
    s = copie_de_base(base_demo, tmp_path)
    fichier = tmp_path / "ddsp.csv"
    fichier.write_text("indicateur;perimetre;periode;valeur\n")
    monkeypatch.setenv("PERR_UTILISATEUR", "caf-aube")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "caf-aube-demo")
    avant = len(depots.liste_depots(s, TCM))
    code = main(["--db", str(s.chemin), "depot", str(fichier), "--protocole", TCM, "--signataire", "ETAT-DDSP"])
    err = capsys.readouterr().err
    assert code == 1 and "Opération refusée" in err and "CAF10" in err
    assert len(depots.liste_depots(s, TCM)) == avant
    # Et un lecteur ne peut rien écrire par la ligne de commande non plus.
    monkeypatch.setenv("PERR_UTILISATEUR", "copil")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "copil-demo-2024")
    assert main(["--db", str(s.chemin), "revue", "1", "--statut", "validé"]) == 1
    assert "ne permet pas de revoir les dépôts" in capsys.readouterr().err
