const root = document.getElementById("nb-notebook");
if (root) root.dataset.state = "ready";
